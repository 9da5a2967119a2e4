/** What one backup run did; printed at the end, stored in status.json, exported as metrics. */
import type { TableClass } from './table-class';
import type { QuiesceReport } from './service-report';

export type SummaryClass = TableClass | 'unclassified';

export interface ClassFigures {
  tables: number;
  /** Rows written (0 for classes whose rows are not saved). */
  rows: number;
}

export interface BackupSummary {
  startedAt: string; // ISO 8601
  finishedAt: string;
  durationMs: number;
  hostName: string;
  hostDir: string;
  perClass: Record<SummaryClass, ClassFigures>;
  views: number;
  triggers: number;
  bytesWritten: number;
  /** Files in the host directory that changed (written or removed). */
  filesChanged: string[];
  /** Commit hash, or null when nothing changed; `unknown` when git made the commit but could not tell its id. */
  commit: string | null;
  /** The user-data snapshot directory written, or null (not configured, or unchanged). */
  userSnapshot: string | null;
  ephemeralDir: string | null;
  services: QuiesceReport | null;
  warnings: string[];
  /** Errors that did not void the backup (e.g. a consumer that failed to start again). */
  errors: string[];
  /** Result of `verify_after_backup`, when it ran. */
  verify?: { ok: boolean; message: string | null; at?: string };
}

/** Per-class figures, all zero. */
export function emptyClassFigures(): Record<SummaryClass, ClassFigures> {
  const zero = () => ({ tables: 0, rows: 0 });
  return { global: zero(), local: zero(), ephemeral: zero(), ignore: zero(), unclassified: zero() };
}

/** Per-class figures of a list of tables, each with its class and rows. */
export function classFigures(tables: readonly { class: SummaryClass; rows: number }[]): Record<SummaryClass, ClassFigures> {
  const figures = emptyClassFigures();
  for (const t of tables) {
    figures[t.class].tables++;
    figures[t.class].rows += t.rows;
  }
  return figures;
}

/** The end of a backup or restore summary: service failures become errors, and the run's times are set. */
export function closeSummary<T extends { services: QuiesceReport | null; errors: string[]; finishedAt: string; durationMs: number }>(summary: T, started: Date, finished: Date): T {
  for (const f of summary.services?.restartFailures ?? []) summary.errors.push(`consumer ${f.service} could not be started again: ${f.error}`);
  const flag = summary.services?.pauseFlag;
  if (flag?.error) summary.errors.push(`the pause flag could not be put back to ${JSON.stringify(flag.previous)} (consumers stay paused; the next run puts it back): ${flag.error}`);
  summary.finishedAt = finished.toISOString();
  summary.durationMs = finished.getTime() - started.getTime();
  return summary;
}
