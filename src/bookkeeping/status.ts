/**
 * The status record: what the last run did, written after every run so
 * `schema_backup status` (and monitoring) can tell a healthy daemon from a
 * failing or silent one. Building and judging a record are pure; only
 * writeStatus/readStatus touch the disk.
 */
import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import type { BackupSummary, ClassFigures, SummaryClass } from '../domain/summary';
import { EXIT, errorMessage, exitCodeOf } from '../errors';
import { writeFileAtomic } from '../store/fsutil';

export interface VerifyOutcome {
  ok: boolean;
  message: string | null;
  /** When the verification finished (ISO 8601). */
  at?: string;
}

export interface StatusRecord {
  version: 1;
  startedAt: string; // ISO 8601
  finishedAt: string;
  durationMs: number;
  result: 'success' | 'failure';
  /** The error of a failed run. */
  error: string | null;
  /** The exit code the run would have had as a one-shot command. */
  exitCode: number;
  /** Figures of this run; null when it failed. */
  perClass: Record<SummaryClass, ClassFigures> | null;
  bytesWritten: number | null;
  filesChanged: number | null;
  /** The new commit; null when nothing changed; `unknown` when git made one but could not tell its id. */
  commit: string | null;
  downtimeMs: number | null;
  userSnapshot: string | null;
  /** Problems that did not void the backup (e.g. a consumer that did not start again). */
  errors: string[];
  warnings: string[];
  nextRun: string | null;
  /** finishedAt of the last successful run, carried over by failures. */
  lastSuccessAt: string | null;
  verify?: VerifyOutcome;
  /** The backup filesystems after the run (success or not): absent when they could not be measured. */
  storage?: StorageFigures;
}

export interface StorageFigures {
  /** Free bytes of each backup directory's filesystem. */
  filesystems: { dir: string; path: string; freeBytes: number }[];
  /** Complete user-data snapshots; null without user_data_backup_dir. */
  userSnapshots: number | null;
}

export function successRecord(summary: BackupSummary, extra: { nextRun: Date | null; verify?: VerifyOutcome }): StatusRecord {
  const record: StatusRecord = {
    version: 1,
    startedAt: summary.startedAt,
    finishedAt: summary.finishedAt,
    durationMs: summary.durationMs,
    result: 'success',
    error: null,
    exitCode: EXIT.ok,
    perClass: summary.perClass,
    bytesWritten: summary.bytesWritten,
    filesChanged: summary.filesChanged.length,
    commit: summary.commit,
    downtimeMs: summary.services?.downtimeMs ?? null,
    userSnapshot: summary.userSnapshot,
    errors: summary.errors,
    warnings: summary.warnings,
    nextRun: extra.nextRun?.toISOString() ?? null,
    lastSuccessAt: summary.finishedAt,
  };
  if (extra.verify) record.verify = extra.verify;
  return record;
}

/**
 * A backup that was written but did not verify: a failed run (exit 8), with
 * the figures of what was written. The last success stays the previous one.
 */
export function verifyFailureRecord(summary: BackupSummary, extra: { nextRun: Date | null; previous: StatusRecord | null }): StatusRecord {
  const verify = summary.verify ?? { ok: false, message: null };
  return {
    ...successRecord(summary, { nextRun: extra.nextRun, verify }),
    result: 'failure',
    error: `verification failed${verify.message ? `: ${verify.message}` : ''}`,
    exitCode: EXIT.verify,
    lastSuccessAt: extra.previous?.lastSuccessAt ?? null,
  };
}

export function failureRecord(run: {
  startedAt: Date;
  finishedAt: Date;
  error: unknown;
  previous: StatusRecord | null;
  nextRun: Date | null;
  verify?: VerifyOutcome;
}): StatusRecord {
  const record: StatusRecord = {
    version: 1,
    startedAt: run.startedAt.toISOString(),
    finishedAt: run.finishedAt.toISOString(),
    durationMs: run.finishedAt.getTime() - run.startedAt.getTime(),
    result: 'failure',
    error: errorMessage(run.error),
    exitCode: exitCodeOf(run.error),
    perClass: null,
    bytesWritten: null,
    filesChanged: null,
    commit: null,
    downtimeMs: null,
    userSnapshot: null,
    errors: [],
    warnings: [],
    nextRun: run.nextRun?.toISOString() ?? null,
    lastSuccessAt: run.previous?.lastSuccessAt ?? null,
  };
  if (run.verify) record.verify = run.verify;
  return record;
}

export async function writeStatus(file: string, record: StatusRecord): Promise<void> {
  await fs.mkdir(dirname(file), { recursive: true });
  // 0644: it holds no secret, and monitoring often reads it as another user.
  await writeFileAtomic(file, `${JSON.stringify(record, null, 2)}\n`, 0o644);
}

/** The record in `file`, or null when there is none yet. A file that is not a status record throws. */
export async function readStatus(file: string): Promise<StatusRecord | null> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const parsed: unknown = JSON.parse(text);
  if (!isStatusRecord(parsed)) throw new Error(`${file} is not a schema_backup status record`);
  return parsed;
}

function isStatusRecord(v: unknown): v is StatusRecord {
  if (v === null || typeof v !== 'object') return false;
  const r = v as Record<string, unknown>;
  return r.version === 1 && (r.result === 'success' || r.result === 'failure') && typeof r.finishedAt === 'string' && typeof r.startedAt === 'string';
}

/** Exit codes of `schema_backup status`. */
export const STATUS_EXIT = {
  healthy: EXIT.ok,
  /** The last run failed, or the last success is older than --max-age. */
  unhealthy: EXIT.internal,
  /** No status file: the daemon has not finished a run (or status_file points elsewhere). */
  missing: EXIT.config,
} as const;

export interface StatusReport {
  text: string;
  json: unknown;
  exitCode: number;
}

const HOUR_MS = 3_600_000;

/** Judges a record (null: no status file) against `now`; pure. */
export function statusReport(record: StatusRecord | null, opts: { now: Date; maxAgeHours: number; file?: string }): StatusReport {
  if (!record) {
    const problem = `no status file${opts.file ? ` at ${opts.file}` : ''}: the daemon has not finished a run yet`;
    return { text: `schema_backup: UNKNOWN\n  ${problem}\n`, json: { healthy: false, problems: [problem], status: null }, exitCode: STATUS_EXIT.missing };
  }
  const problems: string[] = [];
  if (record.result === 'failure') problems.push(`last run failed (exit code ${record.exitCode}): ${record.error ?? 'unknown error'}`);
  const successAgeHours = record.lastSuccessAt ? (opts.now.getTime() - Date.parse(record.lastSuccessAt)) / HOUR_MS : null;
  if (successAgeHours === null) problems.push('no successful run recorded');
  else if (successAgeHours > opts.maxAgeHours) problems.push(`last success is ${formatHours(successAgeHours)} old (more than ${opts.maxAgeHours} h)`);
  if (record.verify && !record.verify.ok) problems.push(`verification failed${record.verify.message ? `: ${record.verify.message}` : ''}`);

  const healthy = problems.length === 0;
  const lines = [`schema_backup: ${healthy ? 'OK' : 'PROBLEM'}`];
  for (const p of problems) lines.push(`  problem: ${p}`);
  lines.push(`  last run:      ${record.result} (exit code ${record.exitCode}), ${record.startedAt} .. ${record.finishedAt} (${(record.durationMs / 1000).toFixed(1)} s)`);
  lines.push(`  last success:  ${record.lastSuccessAt ?? 'never'}${successAgeHours !== null ? ` (${formatHours(successAgeHours)} ago)` : ''}`);
  lines.push(`  next run:      ${record.nextRun ?? 'not scheduled'}`);
  if (record.perClass) {
    const figures = (Object.entries(record.perClass) as [SummaryClass, ClassFigures][])
      .map(([cls, f]) => `${cls} ${f.tables} tables/${f.rows} rows`)
      .join(', ');
    lines.push(`  tables:        ${figures}`);
  }
  if (record.bytesWritten !== null) lines.push(`  bytes written: ${record.bytesWritten}`);
  if (record.filesChanged !== null) lines.push(`  files changed: ${record.filesChanged}`);
  if (record.result === 'success') lines.push(`  commit:        ${record.commit ?? 'none (nothing changed)'}`);
  if (record.downtimeMs !== null) lines.push(`  downtime:      ${(record.downtimeMs / 1000).toFixed(1)} s`);
  if (record.userSnapshot) lines.push(`  user snapshot: ${record.userSnapshot}`);
  if (record.verify) lines.push(`  verify:        ${record.verify.ok ? 'ok' : 'FAILED'}${record.verify.message ? ` (${record.verify.message})` : ''}`);
  for (const f of record.storage?.filesystems ?? []) lines.push(`  free space:    ${f.dir} ${f.path}: ${f.freeBytes} bytes`);
  if (record.storage && record.storage.userSnapshots !== null) lines.push(`  user snapshots: ${record.storage.userSnapshots}`);
  for (const e of record.errors) lines.push(`  error:         ${e}`);
  for (const w of record.warnings) lines.push(`  warning:       ${w}`);

  return {
    text: `${lines.join('\n')}\n`,
    json: { healthy, problems, lastSuccessAgeHours: successAgeHours, status: record },
    exitCode: healthy ? STATUS_EXIT.healthy : STATUS_EXIT.unhealthy,
  };
}

function formatHours(h: number): string {
  return h < 1 ? `${Math.round(h * 60)} min` : `${h.toFixed(1)} h`;
}
