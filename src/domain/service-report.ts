/** How a run handled the site's services: its mode, and what it stopped, started and paused (part of every run's summary). */

/**
 * default: stop running consumers, back up, start them again (or, with
 *          `quiesce: pause-flag`, set CSV2's pause flag and put it back).
 * model:   also restart the providers (and wait for the database) before backing up.
 * target:  like model, but consumers are left stopped (db_upgrade's pre-hook).
 * online:  touch no service; rely on the consistent snapshot alone.
 */
export type ServiceMode = 'default' | 'model' | 'target' | 'online';

export interface QuiesceReport {
  mode: ServiceMode;
  /** Consumers this run stopped. */
  stopped: string[];
  /** Consumers that were already stopped and were left so. */
  alreadyStopped: string[];
  /** Consumers this run started again. */
  restarted: string[];
  /** Consumers that could not be started again (an error of the run, the backup is kept). */
  restartFailures: { service: string; error: string }[];
  providersRestarted: string[];
  /** First stop to last start (pause-flag: flag set to flag put back), or null when nothing was stopped. */
  downtimeMs: number | null;
  /** Present when the run paused the consumers with CSV2's pause flag (`quiesce: pause-flag`) instead of stopping them. */
  pauseFlag?: PauseFlagReport;
}

/** How a restore of the pause flag ended: put back, already back, changed by someone else (left alone), row gone. */
export type FlagRestore = 'restored' | 'unchanged' | 'changed' | 'missing';

export interface PauseFlagReport {
  /** The flag's value before the run set 'True' (null: SQL NULL); the backup saves this value. */
  previous: string | null;
  /** How the flag was put back; null while it is still set (before resume, or when putting it back failed). */
  restore: FlagRestore | null;
  /** Why it could not be put back (the recovery record is kept: the next run puts it back), or null. */
  error: string | null;
}
