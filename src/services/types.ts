/** Contracts between the backup run and the services layer (systemctl, quiescing consumers). */

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

export interface ResumeOptions {
  /**
   * The run failed (or never began). Only matters in target mode: no
   * db_upgrade will follow, so the consumers are started again after all.
   */
  backupFailed?: boolean;
}

export interface Quiescer {
  /**
   * Stops the running consumers (recording them first in the recovery file),
   * waits pause_interval, and in model/target modes restarts the providers and
   * waits until the database answers. If a stop fails it starts again those it
   * had stopped and throws ServiceError: the backup must not start.
   */
  quiesce(): Promise<void>;
  /**
   * The consumers may run again: the rows that need them idle are read (the
   * snapshot is open). Starts again those it stopped (puts the pause flag
   * back); in target mode does nothing: they stay stopped, and recorded for
   * recovery, until the run is over. Idempotent; never throws.
   */
  release(): Promise<void>;
  /**
   * The run is over, failed or not: starts again every consumer it stopped
   * and not yet started (target mode: only when the backup failed; on success
   * they are handed over to db_upgrade and the recovery record is cleared).
   * Idempotent: the first call decides. Never throws; failures land in the report.
   */
  resume(options?: ResumeOptions): Promise<void>;
  report(): QuiesceReport;
}
