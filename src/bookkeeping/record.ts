/**
 * After every run, daemon tick or one-shot: the status file, the metrics
 * file and user-data retention. Each step's failure is logged, never thrown:
 * recording a run must not turn a good backup into a failed one.
 */
import type { BackupSummary } from '../domain/summary';
import type { BackupConfig } from '../config/types';
import { VerifyError, errorMessage } from '../errors';
import type { Logger } from '../log';
import { measureStorage } from '../store/free-space';
import { applyRetention } from '../store/retention';
import { writeMetrics } from './metrics';
import { failureRecord, readStatus, successRecord, verifyFailureRecord, writeStatus, type StatusRecord } from './status';

export async function guarded(log: Logger, message: string, meta: Record<string, unknown>, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    log.error(message, { ...meta, err: errorMessage(err) });
  }
}

/** The status record of the previous run, or null (none yet, or unreadable: logged). */
export async function previousRecord(file: string, log: Logger): Promise<StatusRecord | null> {
  try {
    return await readStatus(file);
  } catch (err) {
    log.warn('cannot read the previous status file, starting afresh', { file, err: errorMessage(err) });
    return null;
  }
}

export interface RecordOptions {
  startedAt: Date;
  finishedAt: Date;
  /** Stopped by a signal: no retention. */
  aborted: boolean;
  previous: StatusRecord | null;
  nextRun: Date | null;
  log: Logger;
}

export async function recordRun(config: BackupConfig, outcome: BackupSummary | Error, o: RecordOptions): Promise<StatusRecord> {
  const { log } = o;
  const rec =
    outcome instanceof Error
      ? failureRecord({
          startedAt: o.startedAt,
          finishedAt: o.finishedAt,
          error: outcome,
          previous: o.previous,
          nextRun: o.nextRun,
          verify: outcome instanceof VerifyError ? { ok: false, message: outcome.message } : undefined,
        })
      : outcome.verify && !outcome.verify.ok
        ? verifyFailureRecord(outcome, { nextRun: o.nextRun, previous: o.previous })
        : successRecord(outcome, { nextRun: o.nextRun, verify: outcome.verify });
  const { metricsFile, retention, userDataBackupDir } = config;
  // A backup that did not verify deletes no older snapshot: it may be the one that is broken.
  if (rec.result === 'success' && !o.aborted && retention && userDataBackupDir) {
    await guarded(log, 'user-data retention failed', { dir: userDataBackupDir }, () => applyRetention(userDataBackupDir, retention, log, o.finishedAt));
  }
  // Measured after retention: the free space and snapshot count the next run starts from.
  await guarded(log, 'cannot measure the backup filesystems', {}, async () => {
    const report = await measureStorage({ config, hostName: null, ephemeralDir: null });
    rec.storage = { filesystems: report.dirs.map((d) => ({ dir: d.role, path: d.path, freeBytes: d.freeBytes })), userSnapshots: report.userSnapshots };
  });
  await guarded(log, 'cannot write the status file', { file: config.statusFile }, () => writeStatus(config.statusFile, rec));
  if (metricsFile) await guarded(log, 'cannot write the metrics file', { file: metricsFile }, () => writeMetrics(metricsFile, rec));
  return rec;
}
