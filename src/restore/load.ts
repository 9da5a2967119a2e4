/**
 * The hot path of a restore: backup files into staging tables, in process.
 * One table loads on one connection, in file order and in one transaction
 * (CREATE TABLE, every INSERT, COMMIT); tables load in parallel, one per
 * connection at a time, largest first. One writer per table is what MariaDB
 * 10.6+ needs: the first transaction inserting into an empty table with
 * unique and foreign-key checks off takes a bulk-insert table lock until its
 * COMMIT (no row undo log, sorted index builds), so a second connection on the
 * same table would only wait, and a client waiting on both is a deadlock the
 * server cannot see. Memory stays bounded: a file is read only as fast as its
 * connection takes the statements (one executing, the next being read).
 */
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { Connection } from 'mysql2';
import type { DbCredentials } from '../config/types';
import { connect, type Db } from '../db/connect';
import { DatabaseError, StoreError, VerifyError, errorMessage } from '../errors';
import { progress } from '../dump/progress';
import { StatementSplitter } from './split';
import { stagingCreate, stagingInsert } from './staging';
import { classifyStatement, triggerSqlMode, createdName, type RoutineDef } from './statements';

const READ_CHUNK = 1 << 20;

/** The session every loading connection runs in (the files' own header says the same). */
export const LOAD_SESSION = [
  'SET NAMES utf8mb4',
  "SET SESSION time_zone = '+00:00'",
  "SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'",
  'SET SESSION foreign_key_checks = 0',
  'SET SESSION unique_checks = 0',
  'SET SESSION net_read_timeout = 3600',
  'SET SESSION net_write_timeout = 3600',
];

function serverMessage(err: unknown): string {
  const e = err as { code?: string; sqlMessage?: string; message?: string };
  return e.sqlMessage ? `${e.code}: ${e.sqlMessage}` : e.message ?? String(err);
}

async function openSession(creds: DbCredentials, database: string, autocommit: boolean): Promise<Db> {
  const db = await connect({ ...creds, database });
  try {
    for (const sql of LOAD_SESSION) await db.query(sql);
    // Not replicating a restore is the operator's choice on a primary; needs SUPER/BINLOG ADMIN, so best effort.
    await db.query('SET SESSION sql_log_bin = 0').catch(() => undefined);
    // History rows of system-versioned tables keep their period (MariaDB 10.11+); without it their INSERT fails, naming the table.
    await db.query('SET SESSION system_versioning_insert_history = 1').catch(() => undefined);
    if (!autocommit) await db.query('SET SESSION autocommit = 0');
  } catch (err) {
    db.destroy();
    throw err;
  }
  return db;
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
}

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

export class Loader {
  private failure: unknown = null;

  private constructor(private readonly lanes: Db[]) {}

  /** Opens `lanes` loading connections on `database`. */
  static async open(creds: DbCredentials, database: string, lanes = 3): Promise<Loader> {
    const dbs: Db[] = [];
    try {
      for (let i = 0; i < lanes; i++) dbs.push(await openSession(creds, database, false));
    } catch (err) {
      for (const d of dbs) d.destroy();
      throw err;
    }
    return new Loader(dbs);
  }

  /**
   * Loads every file, each on one connection from start to COMMIT, largest
   * first. The first failure cuts every connection and is thrown.
   */
  async loadAll(files: readonly LoadFile[]): Promise<Map<string, LoadedTable>> {
    const queue = [...files].sort((a, b) => b.bytes - a.bytes);
    const loaded = new Map<string, LoadedTable>();
    const lane = async (db: Db) => {
      for (let file = queue.shift(); file && this.failure === null; file = queue.shift()) {
        try {
          loaded.set(file.table, await loadFile(db, file));
        } catch (err) {
          if (this.failure === null) {
            this.failure = err;
            this.destroy(); // the other lanes stop at once: the restore has failed
          }
        }
      }
    };
    await Promise.all(this.lanes.map(lane));
    if (this.failure !== null) throw this.failure;
    return loaded;
  }

  async close(): Promise<void> {
    await Promise.all(this.lanes.map((d) => d.close()));
  }

  /** Cuts every connection (error path: statements in flight die with them, the server rolls them back). */
  destroy(): void {
    for (const d of this.lanes) d.destroy();
  }
}

/** One file on one connection: CREATE TABLE, its INSERTs in order (one executing while the next is read), COMMIT. */
async function loadFile(db: Db, file: LoadFile): Promise<LoadedTable> {
  const result: LoadedTable = { table: file.table, rows: 0, foreignKeys: [] };
  const splitter = new StatementSplitter();
  let executing: Promise<void> | null = null;
  const run = async (sql: string): Promise<void> => {
    try {
      result.rows += await execute(db.raw, sql);
    } catch (err) {
      throw loadError(file, err);
    }
  };
  const refuse = (why: string): never => {
    throw new VerifyError(`${file.path}, statement ${splitter.count}: ${why}; nothing was restored`);
  };
  const handle = async (stmt: Buffer): Promise<void> => {
    switch (classifyStatement(stmt)) {
      case 'insert': {
        if (!file.withRows) return;
        let sql = '';
        try {
          sql = stagingInsert(stmt, file.table, file.staging);
        } catch (err) {
          refuse(errorMessage(err));
        }
        if (executing) await executing;
        executing = run(sql);
        // Awaited before the next statement or at the end; until then a failure must not count as unhandled.
        executing.catch(() => undefined);
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
        try {
          await db.query(staged.create);
        } catch (err) {
          throw new DatabaseError(`creating table ${file.table} (from ${file.path}): ${serverMessage((err as { cause?: unknown }).cause ?? err)}`, { cause: err });
        }
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
  const input = createReadStream(file.path, { highWaterMark: READ_CHUNK });
  const gunzip = file.compressed ? createGunzip({ chunkSize: READ_CHUNK }) : null;
  if (gunzip) input.on('error', (err) => gunzip.destroy(err));
  const stream = gunzip ? input.pipe(gunzip) : input;
  let counted = 0;
  try {
    for await (const chunk of stream) {
      // Bytes of the file (compressed or not) against the file sizes the restore planned.
      progress.loaded(input.bytesRead - counted);
      counted = input.bytesRead;
      for (const stmt of splitter.push(chunk as Buffer)) await handle(stmt);
    }
    for (const stmt of splitter.end()) await handle(stmt);
    if (executing) await executing;
    executing = null;
    await run('COMMIT');
  } catch (err) {
    input.destroy();
    gunzip?.destroy();
    // A statement still running must settle before the failure is reported (and is not reported twice).
    if (executing) await (executing as Promise<void>).catch(() => undefined);
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

function execute(raw: Connection, sql: string): Promise<number> {
  return new Promise((resolve, reject) => {
    raw.query(sql, (err, res) => {
      if (err) reject(err);
      else resolve((res as { affectedRows?: number }).affectedRows ?? 0);
    });
  });
}
