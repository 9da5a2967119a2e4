/**
 * Reading and changing CSV2's pause flag in the database. Each step opens its
 * own short connection: the restore must work even after the run's other
 * connections died (server restarted, session killed, wait_timeout), and a
 * run holds none of them idle for the length of a dump.
 */
import type { DbCredentials } from '../config/types';
import { connect, type Db } from '../db/connect';
import { ConfigError, DatabaseError } from '../errors';
import type { FlagRestore } from '../domain/service-report';
import { FLAG_ROW, LOCK_FLAG_SQL, PAUSE_FLAG, READ_FLAG_SQL, SET_FLAG_SQL } from './pause-flag-sql';


export interface PauseFlagDb {
  /** The flag's value now; ConfigError when the site has no such row. Touches nothing. */
  read(): Promise<string | null>;
  /**
   * In one transaction: locks the row, reads its value, calls `before(previous)`
   * (the recovery record is written there, before anything changes), sets
   * 'True', commits. Returns the previous value. ConfigError when the row is missing.
   */
  pause(before: (previous: string | null) => Promise<void>): Promise<string | null>;
  /** Puts `previous` back if the flag still holds 'True' (what the run set); never overwrites another change. */
  restore(previous: string | null): Promise<FlagRestore>;
}

/** Server errors that mean "this database has no such table or column": the site is not what the option assumes. */
const NO_SUCH_TABLE = 1146;
const NO_SUCH_COLUMN = 1054;
/** Seconds to wait for the row lock (a consumer updating the row holds it for milliseconds). */
const LOCK_WAIT_SEC = 10;

export interface PauseFlagDbOptions {
  credentials: DbCredentials;
  /** schema_backup.conf, named in the refusal when the row is missing. */
  configFile: string;
}

export function createPauseFlagDb(opts: PauseFlagDbOptions): PauseFlagDb {
  const database = opts.credentials.database;

  function missing(detail: string): ConfigError {
    return new ConfigError([
      {
        file: opts.configFile,
        key: 'quiesce',
        message:
          `\`quiesce: pause-flag\` needs the ${FLAG_ROW} in database ${database}: ${detail}. ` +
          `Add the row as CSV2 defines it (${PAUSE_FLAG.column} 'False'), or set \`quiesce: stop\`; nothing was touched`,
      },
    ]);
  }

  /** The row's value from a SELECT's result; ConfigError for none or several. */
  function single(rows: (string | null)[][]): string | null {
    if (rows.length === 0) throw missing('there is no such row');
    if (rows.length > 1) throw missing(`there are ${rows.length} such rows, so which one CSV2 reads is unclear`);
    return (rows[0] as (string | null)[])[0] ?? null;
  }

  async function withConnection<T>(body: (db: Db) => Promise<T>): Promise<T> {
    const db = await connect(opts.credentials);
    try {
      return await body(db);
    } catch (err) {
      const errno = ((err as DatabaseError).cause as { errno?: number } | undefined)?.errno;
      if (errno === NO_SUCH_TABLE || errno === NO_SUCH_COLUMN) throw missing(`the table or its columns are missing (${(err as Error).message})`);
      throw err;
    } finally {
      await db.close();
    }
  }

  /** Runs `body` in a transaction with the flag's row locked; rolls back on any failure. */
  function locked<T>(body: (db: Db, current: string | null) => Promise<T>): Promise<T> {
    return withConnection(async (db) => {
      await db.query(`SET SESSION innodb_lock_wait_timeout = ${LOCK_WAIT_SEC}`);
      await db.query('START TRANSACTION');
      try {
        const result = await body(db, single(await db.queryArrays(LOCK_FLAG_SQL)));
        await db.query('COMMIT');
        return result;
      } catch (err) {
        await db.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  return {
    read: () => withConnection(async (db) => single(await db.queryArrays(READ_FLAG_SQL))),
    pause: (before) =>
      locked(async (db, previous) => {
        await before(previous);
        if (previous !== PAUSE_FLAG.paused) await db.query(SET_FLAG_SQL, [PAUSE_FLAG.paused]);
        return previous;
      }),
    async restore(previous) {
      try {
        return await locked(async (db, current): Promise<FlagRestore> => {
          if (current === previous) return 'unchanged';
          if (current !== PAUSE_FLAG.paused) return 'changed';
          await db.query(SET_FLAG_SQL, [previous]);
          return 'restored';
        });
      } catch (err) {
        // The row went away meanwhile: nothing to put back into.
        if (err instanceof ConfigError) return 'missing';
        throw err;
      }
    },
  };
}
