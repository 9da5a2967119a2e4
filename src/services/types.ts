/** Contracts between the backup run and the services layer (systemctl, quiescing consumers); their report is in src/domain/service-report.ts. */

import type { QuiesceReport } from '../domain/service-report';

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
