/** Contracts between the backup run and the services layer (systemctl, quiescing consumers). */

/**
 * default: stop running consumers, back up, start them again.
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
  /** First stop to last start, or null when nothing was stopped. */
  downtimeMs: number | null;
}

export interface ResumeOptions {
  /**
   * The backup failed (or never began). Only matters in target mode: no
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
   * Starts again the consumers it stopped (never in target mode). Idempotent:
   * called early once the snapshot is open, and again in `finally`. Never throws;
   * failures land in the report.
   */
  resume(options?: ResumeOptions): Promise<void>;
  report(): QuiesceReport;
}
