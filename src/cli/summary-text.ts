/** The end-of-run summary a person reads (pure). */
import type { BackupSummary } from '../domain/summary';

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function summaryText(s: BackupSummary): string {
  const c = s.perClass;
  const lines = [
    `schema_backup: ${s.errors.length ? 'completed with errors' : 'backup complete'} in ${(s.durationMs / 1000).toFixed(1)} s`,
    `  tables: global ${c.global.tables} (${c.global.rows} rows), local ${c.local.tables} (${c.local.rows} rows), ephemeral ${c.ephemeral.tables}` +
      (c.ephemeral.rows ? ` (${c.ephemeral.rows} rows to ${s.ephemeralDir})` : '') +
      `, unclassified ${c.unclassified.tables}, ignored ${c.ignore.tables}; views ${s.views}, triggers ${s.triggers}`,
    `  written: ${bytes(s.bytesWritten)}; host files changed: ${s.filesChanged.length}${s.filesChanged.length ? ` (${s.filesChanged.slice(0, 10).join(', ')}${s.filesChanged.length > 10 ? ', ...' : ''})` : ''}`,
    `  commit: ${s.commit ?? 'none (nothing changed)'}`,
    `  user data: ${s.userSnapshot ?? 'no new snapshot (unchanged or not configured)'}`,
  ];
  if (s.services?.pauseFlag) {
    const sv = s.services;
    const flag = sv.pauseFlag as NonNullable<typeof sv.pauseFlag>;
    const back = flag.restore === null ? 'NOT put back (consumers still paused)' : flag.restore === 'changed' ? 'changed by someone else meanwhile, left as it is' : flag.restore === 'missing' ? 'row gone, nothing put back' : 'put back';
    const paused = sv.downtimeMs !== null ? `${(sv.downtimeMs / 1000).toFixed(1)} s` : 'not over';
    lines.push(`  services (${sv.mode}, pause flag): flag set (was ${JSON.stringify(flag.previous)}), ${back}; consumers paused ${paused}`);
  } else if (s.services) {
    const sv = s.services;
    // No end means consumers stopped by the run are still down (--target, or a failed start): not "none".
    const downtime = sv.downtimeMs !== null ? `${(sv.downtimeMs / 1000).toFixed(1)} s` : sv.stopped.length ? 'not over (consumers still stopped)' : 'none';
    lines.push(`  services (${sv.mode}): stopped ${sv.stopped.join(', ') || 'none'}; started again ${sv.restarted.join(', ') || 'none'}; downtime ${downtime}`);
  }
  if (s.warnings.length) lines.push(`  warnings: ${s.warnings.length} (see log)`);
  for (const e of s.errors) lines.push(`  error: ${e}`);
  return lines.join('\n') + '\n';
}
