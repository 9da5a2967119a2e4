/** `--dry-run` output: the plan as a table a person reads (pure). */
import type { BackupPlan, TablePlan } from './plan';

function destination(t: TablePlan, dirs: { host: string; user: string | null; ephemeral: string | null }): string {
  const parts = [`structure -> ${dirs.host}/${t.file}`];
  if (t.rowsToHost) parts.push(`rows -> ${dirs.host}/${t.file} (git)`);
  if (t.rowsToUser) parts.push(`rows -> ${dirs.user}/<snapshot>/${t.file}`);
  if (t.rowsToEphemeral) parts.push(`rows -> ${dirs.ephemeral}/${t.file}`);
  if (!t.rowsToHost && !t.rowsToUser && !t.rowsToEphemeral) parts.push('rows not saved');
  return parts.join('; ');
}

export function renderPlan(plan: BackupPlan, dirs: { host: string; user: string | null; ephemeral: string | null }): string {
  const width = Math.max(5, ...plan.tables.map((t) => t.name.length));
  const lines = [`${'table'.padEnd(width)}  ${'class'.padEnd(12)}  saved`];
  for (const t of plan.tables) lines.push(`${t.name.padEnd(width)}  ${t.class.padEnd(12)}  ${destination(t, dirs)}`);
  for (const v of plan.views) lines.push(`${v.padEnd(width)}  ${'view'.padEnd(12)}  definition -> ${dirs.host}/.schema_backup/views.sql`);
  for (const i of plan.ignored) lines.push(`${i.padEnd(width)}  ${'ignore'.padEnd(12)}  untouched`);
  if (plan.warnings.length > 0) {
    lines.push('', 'warnings:');
    for (const w of plan.warnings) lines.push(`  - ${w.message}`);
  }
  return lines.join('\n') + '\n';
}
