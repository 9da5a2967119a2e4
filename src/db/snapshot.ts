/**
 * One consistent view of the database for a whole run: REPEATABLE READ
 * transactions WITH CONSISTENT SNAPSHOT. Several connections can share it
 * (parallel reads of one table by key range) only if their snapshots start
 * while no write to the database can commit. Two ways, tried in turn:
 * - LOCK TABLES ... READ on every base table of the database, from a side
 *   connection: granted once every transaction that wrote to them has ended,
 *   and it holds new writes off until the snapshots have started. It needs
 *   only what an application user has on its own database (LOCK TABLES, SELECT);
 * - a brief global read lock (FLUSH TABLES WITH READ LOCK, as mariadb-dump
 *   --single-transaction --master-data does), which needs the RELOAD privilege.
 * Either lock waits at most a few seconds (writers queue behind it). When
 * neither is granted the run reads over one connection, and says why.
 *
 * Non-transactional tables are not covered by the snapshot, so each is
 * read-locked (from another connection: LOCK TABLES in a snapshot session
 * would end its transaction) while it is dumped.
 */
import type { DbCredentials } from '../config/types';
import type { Logger } from '../log';
import { connect, type ConnectOptions, type Db } from './connect';
import { quoteIdent } from './quote';

const SESSION_SETUP = [
  // One statement for these (a round trip each otherwise). Long dumps with a paused socket must not be cut
  // by the server's write timeout. No sql_mode, as mariadb-dump's own session: the server's may change what
  // is read (ANSI_QUOTES: SHOW CREATE quotes names with "; PAD_CHAR_TO_FULL_LENGTH: CHAR values padded) and
  // how mysql2's `?` values are read (NO_BACKSLASH_ESCAPES: on the first connection, which takes many
  // statements to a query, a value could end its string and run statements of its own).
  "SET SESSION time_zone = '+00:00', net_write_timeout = 3600, net_read_timeout = 3600, sql_mode = ''",
  'SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ',
];

/**
 * Reader connections by default. One: on a 2-core host the server's threads
 * and the client share the machine, so extra readers cost memory (read-ahead)
 * without saving time (see `npm run bench`).
 * More pay when the server is slower than the client (remote, cold cache).
 * SCHEMA_BACKUP_READERS=N overrides it (the benchmark measures both).
 */
export const DEFAULT_READERS = 1;

function readersFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const n = Number(env.SCHEMA_BACKUP_READERS);
  return Number.isInteger(n) && n >= 1 && n <= 16 ? n : undefined;
}
/** Seconds to wait for the global read lock; writers queue behind it, so it must be short. */
const GLOBAL_LOCK_WAIT = 5;

export interface Snapshot {
  readonly db: Db;
  /** Connections inside this same snapshot, `db` first; one when parallel reads are not possible. */
  readonly readers: readonly Db[];
  /** Why the snapshot has fewer readers than asked (for the run's summary), or empty. */
  readonly warnings: readonly string[];
  /** Runs `body` with `table` read-locked against writers. */
  withReadLock<T>(table: string, body: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** Cuts every connection at once (abort on SIGTERM). */
  destroy(): void;
}

export interface SnapshotOptions {
  /** Connections sharing the snapshot (default: SCHEMA_BACKUP_READERS, else DEFAULT_READERS); 1 never takes the global lock. */
  readers?: number;
  log?: Logger;
  /**
   * A connection the caller opened with openSession({ batches: true }) (the run's check of the database): the
   * first reader, if it still answers, instead of a new connection. The snapshot owns it from the call on.
   */
  spare?: Db;
}

export async function prepareSession(db: Db): Promise<void> {
  for (const sql of SESSION_SETUP) await db.query(sql);
}

const START = 'START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY';
/**
 * Starts the snapshot on every reader while `holder` holds the lock `lockSql` takes (waiting at most
 * GLOBAL_LOCK_WAIT for it), then releases it: no write can commit between the first START and the
 * last, so every connection sees the same data. False (nothing started) when the lock is not granted.
 */
async function startUnderLock(all: Db[], holder: Db, lockSql: string): Promise<boolean> {
  await holder.query(`SET SESSION lock_wait_timeout = ${GLOBAL_LOCK_WAIT}`);
  try {
    await holder.query(lockSql);
  } catch {
    return false;
  } finally {
    await holder.query('SET SESSION lock_wait_timeout = DEFAULT').catch(() => undefined);
  }
  try {
    for (const db of all) await db.query(START);
  } finally {
    // Ends LOCK TABLES; after FTWRL it releases the global lock and keeps the transaction (mariadb-dump relies on this too).
    await holder.query('UNLOCK TABLES');
  }
  return true;
}

/** Under LOCK TABLES ... READ on every base table of the database, from the side connection `locker`. */
async function startUnderTableLocks(all: Db[], locker: Db): Promise<boolean> {
  const tables = await locker.queryArrays("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'", [locker.database]);
  if (tables.length === 0) return false;
  return startUnderLock(all, locker, `LOCK TABLES ${tables.map(([t]) => `${quoteIdent(t as string)} READ`).join(', ')}`);
}

/** Under the global read lock, taken by the first reader itself (FTWRL keeps its transaction startable). */
function startShared(all: Db[]): Promise<boolean> {
  return startUnderLock(all, all[0], 'FLUSH TABLES WITH READ LOCK');
}

/**
 * The first reader: `spare` when it still answers (a server may have closed it while consumers stopped, after its
 * wait_timeout), else a new connection. A question costs a round trip; a new connection costs its handshake and
 * login, several milliseconds of the client's time.
 */
async function firstReader(creds: DbCredentials, spare: Db | undefined): Promise<Db> {
  if (spare) {
    // A connection cut without a word (a half-open TCP link) would not answer for minutes: not waited for.
    const timer = setTimeout(() => spare.destroy(), SPARE_ANSWER_MS);
    try {
      await spare.query('SELECT 1');
      return spare;
    } catch {
      spare.destroy();
    } finally {
      clearTimeout(timer);
    }
  }
  return openSession(creds, { batches: true });
}

/** How long the spare has to answer before a new connection is opened instead. */
const SPARE_ANSWER_MS = 5_000;

/** A connection in the snapshot's session settings: readers, the locks' side connection (it asks with `?` values too), and the check of the database whose connection the snapshot may take over. */
export async function openSession(creds: DbCredentials, options: ConnectOptions = {}): Promise<Db> {
  const db = await connect(creds, options);
  try {
    await prepareSession(db);
  } catch (err) {
    db.destroy();
    throw err;
  }
  return db;
}

export async function openSnapshot(creds: DbCredentials, options: SnapshotOptions = {}): Promise<Snapshot> {
  const wanted = Math.max(1, options.readers ?? readersFromEnv(process.env) ?? DEFAULT_READERS);
  const warnings: string[] = [];
  // The first connection also reads every table's structure: many statements to a query (connect.ts).
  const all: Db[] = [await firstReader(creds, options.spare)];
  let locker: Db | null = null;
  try {
    while (all.length < wanted) all.push(await openSession(creds));
    if (all.length > 1) locker = await openSession(creds);
    if (all.length > 1 && !(await startUnderTableLocks(all, locker as Db)) && !(await startShared(all))) {
      const message = `parallel reads disabled: neither LOCK TABLES ... READ on the database's tables (the LOCK TABLES privilege) nor FLUSH TABLES WITH READ LOCK (the RELOAD privilege) was granted within ${GLOBAL_LOCK_WAIT} s; reading over one connection`;
      warnings.push(message);
      options.log?.warn(message, { user: creds.user });
      for (const extra of all.splice(1)) await extra.close();
    }
    if (all.length === 1) await all[0].query(START);
  } catch (err) {
    for (const db of all) db.destroy();
    (locker as Db | null)?.destroy();
    throw err;
  }
  const db = all[0];
  return {
    db,
    readers: all,
    warnings,
    async withReadLock(table, body) {
      locker ??= await openSession(creds);
      await locker.query(`LOCK TABLES ${quoteIdent(table)} READ`);
      try {
        return await body();
      } finally {
        await locker.query('UNLOCK TABLES').catch(() => undefined);
      }
    },
    async close() {
      for (const reader of all) {
        await reader.query('COMMIT').catch(() => undefined);
        await reader.close();
      }
      if (locker) await locker.close();
    },
    destroy() {
      for (const reader of all) reader.destroy();
      locker?.destroy();
    },
  };
}
