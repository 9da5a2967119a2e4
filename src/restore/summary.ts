/** What one restore did (or, with --dry-run, would do); printed at the end. */
import { emptyClassFigures, type ClassFigures, type SummaryClass } from '../domain/summary';
import type { QuiesceReport } from '../domain/service-report';
import type { RestoreMode } from './plan';

export interface RestoredTable {
  table: string;
  class: SummaryClass;
  action: 'create' | 'replace' | 'merge';
  withRows: boolean;
  /** Rows loaded from the backup (merge: rows of the backup written into the target). */
  rows: number;
  origin: 'host' | 'user';
}

export interface RestoreSummary {
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  dryRun: boolean;
  mode: RestoreMode;
  target: string;
  hostDir: string;
  /** The user-data snapshot read (its name), or null. */
  snapshot: string | null;
  tables: RestoredTable[];
  perClass: Record<SummaryClass, ClassFigures>;
  triggers: number;
  views: number;
  /** --merge: tables left untouched because their structure differs from the backup's (or they have no key). */
  mismatched: { table: string; reason: string }[];
  /** Triggers and views whose DEFINER does not exist here: they fail when used (error 1449). */
  missingDefiners: { kind: 'trigger' | 'view'; name: string; definer: string }[];
  services: QuiesceReport | null;
  warnings: string[];
  errors: string[];
}

/** A restore's summary before anything is done: no tables, nothing counted. */
export function newRestoreSummary(started: Date, fields: Pick<RestoreSummary, 'dryRun' | 'mode' | 'target' | 'hostDir' | 'snapshot'>): RestoreSummary {
  return {
    startedAt: started.toISOString(),
    finishedAt: '',
    durationMs: 0,
    ...fields,
    tables: [],
    perClass: emptyClassFigures(),
    triggers: 0,
    views: 0,
    mismatched: [],
    missingDefiners: [],
    services: null,
    warnings: [],
    errors: [],
  };
}

const CLASSES: SummaryClass[] = ['global', 'local', 'ephemeral', 'unclassified'];

export function restoreSummaryText(s: RestoreSummary): string {
  const lines: string[] = [];
  const verb = s.dryRun ? 'would restore' : 'restored';
  lines.push(
    s.dryRun
      ? `schema_restore: dry run (${s.mode}) into database ${s.target}; nothing was changed`
      : `schema_restore: restore (${s.mode}) into database ${s.target} complete in ${(s.durationMs / 1000).toFixed(1)} s`,
  );
  lines.push(`  from: ${s.hostDir}${s.snapshot ? ` and user-data snapshot ${s.snapshot}` : ' (no user-data snapshot)'}`);
  const parts = CLASSES.filter((c) => s.perClass[c].tables > 0).map((c) => `${c} ${s.perClass[c].tables} (${s.perClass[c].rows} rows)`);
  lines.push(`  ${verb}: ${parts.length ? parts.join(', ') : 'no tables'}; triggers ${s.triggers}, views ${s.views}`);
  if (s.dryRun) {
    for (const t of s.tables) lines.push(`    ${t.action.padEnd(7)} ${t.table} [${t.class}] ${t.withRows ? `rows from ${t.origin}${t.rows ? ` (${t.rows})` : ''}` : 'structure only'}`);
  }
  for (const m of s.mismatched) lines.push(`  NOT merged: ${m.table}: ${m.reason}`);
  for (const d of s.missingDefiners) {
    lines.push(`  ${d.kind} ${d.name}: definer ${d.definer} does not exist on this server; it fails when used (error 1449); --definer current recreates it with you as definer`);
  }
  if (s.services) {
    const r = s.services;
    lines.push(`  services (${r.mode}): stopped ${r.stopped.join(', ') || 'none'}; started again ${r.restarted.join(', ') || 'none'}`);
  }
  for (const w of s.warnings) lines.push(`  warning: ${w}`);
  for (const e of s.errors) lines.push(`  error: ${e}`);
  return lines.join('\n') + '\n';
}
