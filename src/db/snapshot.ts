/**
 * One consistent view of the database for a whole run: a REPEATABLE READ
 * transaction WITH CONSISTENT SNAPSHOT. Non-transactional tables are not
 * covered by it, so each is read-locked (from a second connection: LOCK TABLES
 * in the snapshot session would end its transaction) while it is dumped.
 */
import type { DbCredentials } from '../config/types';
import { connect, type Db } from './connect';
import { quoteIdent } from './quote';

const SESSION_SETUP = [
  "SET SESSION time_zone = '+00:00'",
  // Long dumps with a paused socket must not be cut by the server's write timeout.
  'SET SESSION net_write_timeout = 3600',
  'SET SESSION net_read_timeout = 3600',
  'SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ',
];

export interface Snapshot {
  readonly db: Db;
  /** Runs `body` with `table` read-locked against writers. */
  withReadLock<T>(table: string, body: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** Cuts every connection at once (abort on SIGTERM). */
  destroy(): void;
}

export async function prepareSession(db: Db): Promise<void> {
  for (const sql of SESSION_SETUP) await db.query(sql);
}

export async function openSnapshot(creds: DbCredentials): Promise<Snapshot> {
  const db = await connect(creds);
  let locker: Db | null = null;
  try {
    await prepareSession(db);
    await db.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
  } catch (err) {
    db.destroy();
    throw err;
  }
  return {
    db,
    async withReadLock(table, body) {
      locker ??= await connect(creds);
      await locker.query(`LOCK TABLES ${quoteIdent(table)} READ`);
      try {
        return await body();
      } finally {
        await locker.query('UNLOCK TABLES').catch(() => undefined);
      }
    },
    async close() {
      await db.query('COMMIT').catch(() => undefined);
      await db.close();
      if (locker) await locker.close();
    },
    destroy() {
      db.destroy();
      locker?.destroy();
    },
  };
}
