/**
 * The hot path of a restore: backup files into staging tables, in process.
 * A table's rows are large statements (up to 16 MiB each), cut between rows
 * into 1 MiB queries that go from the file's bytes into a packet each
 * connection reuses (db/query-bytes); every query
 * runs on whichever loading connection is free, in autocommit, so one big
 * table loads over every connection and many small ones load side by side.
 * Autocommit is what makes that safe on MariaDB 10.6+: the first insert into
 * an empty table with unique and foreign-key checks off takes a bulk-insert
 * table lock until its transaction ends, and a transaction per table held
 * over several connections was a wait cycle through the client that the
 * server cannot see (each loaded only after the others committed). With a
 * statement per transaction the lock ends with the statement. The first
 * INSERT into a table still runs alone: two that both find the table empty
 * both ask for that lock, a deadlock (seen one restore in four). Once rows
 * are in, the others run side by side on ordinary row locks. Atomicity is
 * not lost: the staging tables are invisible until the one RENAME TABLE.
 * Memory stays bounded: a file is read only as fast as connections take its
 * statements (one in flight per connection, the next being read).
 */
import { createReadStream, promises as fs } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { DbCredentials } from '../config/types';
import { connect, type Db } from '../db/connect';
import { QUERY_HEAD, queryBytes, queryPacketBuffer } from '../db/query-bytes';
import { DatabaseError, StoreError, VerifyError, errorMessage } from '../errors';
import { progress } from '../dump/progress';
import { StatementSplitter } from './split';
import { stagingCreate, stagingInsert, type StagingInsert } from './staging';
import { classifyStatement, triggerSqlMode, createdName, type RoutineDef } from './statements';

const READ_CHUNK = 1 << 20;

/** The session every loading connection runs in (the files' own header says the same). */
export const LOAD_SESSION = [
  'SET NAMES utf8mb4',
  // One statement for the rest, instead of a round trip each at every connection's opening.
  "SET SESSION time_zone = '+00:00', sql_mode = 'NO_AUTO_VALUE_ON_ZERO', foreign_key_checks = 0, unique_checks = 0, net_read_timeout = 3600, net_write_timeout = 3600",
];

/** The server's message; it arrives as utf8mb4 bytes read one per character on the loader's byte-string connections. */
function serverMessage(err: unknown): string {
  const e = err as { code?: string; sqlMessage?: string; message?: string };
  return e.sqlMessage ? `${e.code}: ${Buffer.from(e.sqlMessage, 'latin1').toString('utf8')}` : e.message ?? String(err);
}

/** A loading connection and the query packet it sends its statements in (reused: no garbage per query). */
interface Lane {
  db: Db;
  packet: Buffer;
  /**
   * Rejects the query in flight (while there is one): mysql2 never answers a query in flight
   * on a connection it closes, so a cut lane fails its query here instead of hanging.
   */
  abandon: ((err: unknown) => void) | null;
  /** Why the lane was cut; a cut lane sends nothing more (its packet may still be on its way out). */
  cut: unknown;
}

/** Cuts the lane: its query in flight fails at once, and it takes no other. */
function cutLane(lane: Lane, err: unknown): void {
  lane.cut ??= err;
  lane.abandon?.(err);
  lane.db.destroy();
}

/** Writes `parts` one after the other into the lane's packet; returns the statement's length. */
function fill(lane: Lane, parts: readonly Buffer[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  lane.packet = queryPacketBuffer(n, lane.packet);
  let at = QUERY_HEAD;
  for (const p of parts) at += p.copy(lane.packet, at);
  return n;
}

/** Runs `parts` as one statement on the lane; resolves with affected rows. */
async function sendBytes(lane: Lane, parts: readonly Buffer[]): Promise<number> {
  if (lane.cut) throw lane.cut;
  const length = fill(lane, parts); // before lane.packet is read: it may have grown
  const result = await new Promise<unknown>((resolve, reject) => {
    lane.abandon = reject;
    queryBytes(lane.db.raw, lane.packet, length).then(resolve, reject);
  }).finally(() => {
    lane.abandon = null;
  });
  return (result as { affectedRows?: number }).affectedRows ?? 0;
}

async function openSession(creds: DbCredentials, database: string): Promise<Lane> {
  // Statements go as the file's bytes (db/query-bytes); byte strings read the server's messages back as bytes too.
  const db = await connect({ ...creds, database }, { byteStrings: true });
  const lane: Lane = { db, packet: queryPacketBuffer(0), abandon: null, cut: null };
  try {
    // The server would report SET NAMES' new character_set_client, and mysql2 would then encode as utf8mb4 again.
    await db.query("SET SESSION session_track_system_variables = ''").catch(() => undefined);
    for (const sql of LOAD_SESSION) await db.query(sql);
    // Proof, not trust: a two-byte character sent as its bytes must reach the server as exactly those bytes.
    const check = fill(lane, [Buffer.from("SELECT HEX('ü') AS h", 'utf8')]);
    const rows = (await queryBytes(db.raw, lane.packet, check)) as { h?: string }[] | string[][];
    const first = rows[0];
    const hex = Array.isArray(first) ? first[0] : first?.h;
    if (hex !== 'C3BC') throw new DatabaseError(`the loading connection does not pass bytes through unchanged (got ${hex} for C3BC); nothing was restored`);
    // Not replicating a restore is the operator's choice on a primary; needs SUPER/BINLOG ADMIN, so best effort.
    await db.query('SET SESSION sql_log_bin = 0').catch(() => undefined);
    // History rows of system-versioned tables keep their period (MariaDB 10.11+); without it their INSERT fails, naming the table.
    await db.query('SET SESSION system_versioning_insert_history = 1').catch(() => undefined);
  } catch (err) {
    db.destroy();
    throw err;
  }
  return lane;
}


/** One backup file to load into its staging table. */
export interface LoadFile {
  table: string;
  /** The staging table it loads into (see staging.ts). */
  staging: string;
  path: string;
  compressed: boolean;
  withRows: boolean;
  /** Size of the file: the largest load first. */
  bytes: number;
  /** The file is of the one-line layout (its manifest has statementBytes): its INSERTs may be cut between rows. */
  rowPieces?: boolean;
  /** Its longest statement (the manifest's statementBytes), when known. */
  statementBytes?: number | null;
}

/**
 * Rows per query when a statement is cut (rowPieces): small enough to spread over the
 * connections, large enough that the server's cost per statement (parse, commit) stays
 * small. Measured on the 1M-row restore, with queries sent as bytes from a reused packet
 * (no garbage): 256 KiB took 1.2 s of client CPU and 8.1 s of server CPU, 1 MiB 0.85 s and
 * 7.5-8.5 s at 93-95 MB peak; 2 and 4 MiB gained nothing more.
 */
const PIECE_BYTES = 1 << 20;

export interface LoadedTable {
  table: string;
  rows: number;
  /** Foreign keys taken out of the staging table, to add once it is in place. */
  foreignKeys: string[];
}

function loadError(file: LoadFile, err: unknown): DatabaseError {
  // Never the statement in the message: it is row data.
  return new DatabaseError(`loading table ${file.table} from ${file.path}: ${serverMessage((err as { cause?: unknown }).cause ?? err)}`, { cause: err });
}

export interface LoaderOptions {
  /** Loading connections. */
  lanes: number;
  /** Rows per query when a statement is cut (default PIECE_BYTES). */
  pieceBytes?: number;
  /** A connection of the same user, to kill the loading connections' statements on the server when the load is cut. */
  admin?: Db;
}

export class Loader {
  private failure: unknown = null;
  private pool: LanePool | null = null;

  private constructor(
    private readonly lanes: Lane[],
    private readonly options: LoaderOptions,
  ) {}

  /** Opens the loading connections on `database`. */
  static async open(creds: DbCredentials, database: string, options: LoaderOptions): Promise<Loader> {
    // Opened together: each takes a connection and a few round trips, which do not wait on one another.
    const opened = await Promise.allSettled(Array.from({ length: options.lanes }, () => openSession(creds, database)));
    const lanes = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    const failed = opened.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) {
      for (const l of lanes) l.db.destroy();
      throw failed.reason;
    }
    return new Loader(lanes, options);
  }

  /**
   * Loads every file, largest first, as many files at once as there are
   * connections, each statement on the next free connection. The first
   * failure cuts every connection and is thrown.
   */
  async loadAll(files: readonly LoadFile[]): Promise<Map<string, LoadedTable>> {
    const queue = [...files].sort((a, b) => b.bytes - a.bytes);
    const loaded = new Map<string, LoadedTable>();
    const pool = new LanePool(this.lanes, () => this.failure !== null);
    this.pool = pool;
    const reader = async () => {
      for (let file = queue.shift(); file && this.failure === null; file = queue.shift()) {
        try {
          loaded.set(file.table, await loadFile(pool, file, this.options.pieceBytes ?? PIECE_BYTES));
        } catch (err) {
          // The first failure cuts every connection at once: the restore has failed.
          if (this.failure === null) this.cut(err);
        }
      }
    };
    await Promise.all(this.lanes.map(reader));
    if (this.failure !== null) throw this.failure;
    return loaded;
  }

  async close(): Promise<void> {
    await Promise.all(this.lanes.map((l) => l.db.close()));
  }

  /** Stops the load (a signal): as a failure would, with the error loadAll then throws. */
  destroy(): void {
    this.cut(new DatabaseError('loading stopped: its connections were cut'));
  }

  /**
   * Cuts every connection, `err` being the load's failure: statements in flight fail here at
   * once and no lane takes another; with `admin`, they are killed on the server too, so that
   * their locks on the staging tables end and the cleanup can drop them (autocommit: the
   * server rolls each back).
   */
  private cut(err: unknown): void {
    this.failure ??= err;
    const { admin } = this.options;
    for (const l of this.lanes) {
      const id = l.db.raw.threadId;
      if (admin && id && !l.cut) admin.query(`KILL QUERY ${Number(id)}`).catch(() => undefined);
      cutLane(l, err);
    }
    this.pool?.abandon();
  }
}

/** The loading connections: a statement waits for a free one, and gives it back when done. */
class LanePool {
  private readonly free: Lane[];
  private readonly waiting: ((lane: Lane | null) => void)[] = [];

  constructor(lanes: readonly Lane[], private readonly failed: () => boolean) {
    this.free = [...lanes];
  }

  /** A free connection, or null once the load has failed. */
  acquire(): Promise<Lane | null> {
    if (this.failed()) return Promise.resolve(null);
    const db = this.free.pop();
    if (db) return Promise.resolve(db);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(lane: Lane): void {
    const next = this.waiting.shift();
    if (next) next(this.failed() ? null : lane);
    else this.free.push(lane);
  }

  /** Wakes every waiter with null (the load failed). */
  abandon(): void {
    for (const w of this.waiting.splice(0)) w(null);
  }
}

/** One file: CREATE TABLE on a free connection, then each INSERT on the next free one (the next read meanwhile). */
async function loadFile(pool: LanePool, file: LoadFile, pieceBytes: number): Promise<LoadedTable> {
  const result: LoadedTable = { table: file.table, rows: 0, foreignKeys: [] };
  const splitter = new StatementSplitter({ reuse: true, capacity: file.statementBytes ? file.statementBytes + 2 * READ_CHUNK : 0, insertLines: file.rowPieces === true });
  const inFlight = new Set<Promise<void>>();
  let failure: unknown = null;
  let hasRows = false;
  /**
   * Runs the statement made of `parts` on a free connection; resolves once it is sent on its
   * way (awaits only a free connection). The parts are copied into that connection's packet
   * before this returns, so they may be views of the splitter's buffer.
   */
  const dispatch = async (parts: readonly Buffer[], onError: (err: unknown) => unknown): Promise<void> => {
    const lane = await pool.acquire();
    if (lane === null) throw failure ?? new DatabaseError(`loading table ${file.table}: stopped, another table failed`);
    // Never rejects: a failure is kept in `failure`, which settle() and the next dispatch check.
    const done: Promise<void> = sendBytes(lane, parts)
      .then(
        (rows) => {
          result.rows += rows;
        },
        (err: unknown) => {
          failure ??= onError(err);
        },
      )
      .finally(() => {
        pool.release(lane);
        inFlight.delete(done);
      });
    inFlight.add(done);
  };
  const run = (parts: readonly Buffer[]): Promise<void> => dispatch(parts, (err) => loadError(file, err));
  /** Waits for every statement sent; a failed one (even one that ended before the wait began) is thrown. */
  const settle = async (): Promise<void> => {
    await Promise.all([...inFlight]);
    if (failure !== null) throw failure;
  };
  const refuse = (why: string): never => {
    throw new VerifyError(`${file.path}, statement ${splitter.count}: ${why}; nothing was restored`);
  };
  const handle = async (stmt: Buffer): Promise<void> => {
    switch (classifyStatement(stmt)) {
      case 'insert': {
        if (!file.withRows) return;
        let insert: StagingInsert = { head: Buffer.alloc(0), pieces: [] };
        try {
          // The statement is checked before its first piece; the rest only cuts.
          insert = stagingInsert(stmt, file.table, file.staging, file.rowPieces ? pieceBytes : null);
        } catch (err) {
          refuse(errorMessage(err));
        }
        for (const [from, to] of insert.pieces) {
          if (failure !== null) throw failure;
          await run([insert.head, stmt.subarray(from, to)]);
          if (!hasRows) {
            await settle(); // the bulk-insert lock of an empty table: see the top of this file
            hasRows = true;
          }
        }
        return;
      }
      case 'create-table':
      case 'create-sequence': {
        let staged = { create: '', foreignKeys: [] as string[] };
        try {
          staged = stagingCreate(stmt.toString('utf8'), file.table, file.staging);
        } catch (err) {
          refuse(errorMessage(err));
        }
        result.foreignKeys = staged.foreignKeys;
        // Its rows wait for the table: the CREATE completes before any INSERT is sent.
        await dispatch([Buffer.from(staged.create, 'utf8')], (err) => new DatabaseError(`creating table ${file.table} (from ${file.path}): ${serverMessage((err as { cause?: unknown }).cause ?? err)}`, { cause: err }));
        await settle();
        return;
      }
      case 'session':
      case 'drop-table':
      case 'trigger-mode':
      case 'drop-trigger':
      case 'create-trigger':
        // Every connection has the session already; the staging table is new; triggers come with the commit (readTriggers).
        return;
      default:
        // Staging shares the database with live tables: a statement we did not write is not run there.
        return refuse(`unexpected statement (${stmt.subarray(0, 40).toString('utf8').replace(/\s+/g, ' ')}…)`);
    }
  };
  const input = file.compressed ? createReadStream(file.path, { highWaterMark: READ_CHUNK }) : null;
  const gunzip = input ? createGunzip({ chunkSize: READ_CHUNK }) : null;
  if (input && gunzip) input.on('error', (err) => gunzip.destroy(err));
  let counted = 0;
  try {
    for await (const chunk of input && gunzip ? input.pipe(gunzip) : readChunks(file.path)) {
      // Bytes of the file (compressed or not) against the file sizes the restore planned.
      const read = input ? input.bytesRead : counted + (chunk as Buffer).length;
      progress.loaded(read - counted);
      counted = read;
      for (const stmt of splitter.push(chunk as Buffer)) await handle(stmt);
    }
    for (const stmt of splitter.end()) await handle(stmt);
    await settle();
  } catch (err) {
    input?.destroy();
    gunzip?.destroy();
    // Statements still running must settle before the failure is reported (and it is not reported twice).
    await Promise.all([...inFlight]);
    if (failure !== null) throw failure;
    if (err instanceof DatabaseError || err instanceof VerifyError) throw err;
    throw new StoreError(`cannot read ${file.path}: ${errorMessage(err)}`, { cause: err });
  }
  return result;
}

/** The triggers of a backup file, each with its sql_mode, in file order (rows are skipped, not decoded). */
export async function readTriggers(path: string, compressed: boolean, table: string): Promise<RoutineDef[]> {
  const triggers: RoutineDef[] = [];
  const splitter = new StatementSplitter();
  let sqlMode = '';
  const handle = (stmt: Buffer) => {
    const kind = classifyStatement(stmt);
    if (kind === 'trigger-mode') sqlMode = triggerSqlMode(stmt.toString('utf8'));
    else if (kind === 'create-trigger') {
      const create = stmt.toString('utf8');
      triggers.push({ name: createdName(create, 'TRIGGER') ?? '?', table, sqlMode, create });
    }
  };
  const input = createReadStream(path, { highWaterMark: READ_CHUNK });
  const gunzip = compressed ? createGunzip({ chunkSize: READ_CHUNK }) : null;
  if (gunzip) input.on('error', (err) => gunzip.destroy(err));
  try {
    for await (const chunk of gunzip ? input.pipe(gunzip) : input) for (const stmt of splitter.push(chunk as Buffer)) handle(stmt);
    for (const stmt of splitter.end()) handle(stmt);
  } catch (err) {
    input.destroy();
    gunzip?.destroy();
    throw new StoreError(`cannot read ${path}: ${errorMessage(err)}`, { cause: err });
  }
  return triggers;
}

/** A plain file, chunk by chunk, always into the same buffer (the splitter copies what it keeps): no garbage per megabyte read. */
async function* readChunks(path: string): AsyncGenerator<Buffer> {
  const buffer = Buffer.allocUnsafe(READ_CHUNK);
  const file = await fs.open(path, 'r');
  try {
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, READ_CHUNK, null);
      if (bytesRead === 0) return;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await file.close();
  }
}
