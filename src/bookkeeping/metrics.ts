/**
 * Prometheus textfile-collector output (node_exporter --collector.textfile),
 * rendered from the status record after every run. The render is pure; the
 * write is atomic, as the collector requires, so a scrape never sees half a file.
 */
import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import type { SummaryClass } from '../domain/summary';
import { writeFileAtomic } from '../store/fsutil';
import type { StatusRecord } from './status';

const ROW_CLASSES: readonly SummaryClass[] = ['global', 'local', 'ephemeral', 'unclassified'];
const TABLE_CLASSES: readonly SummaryClass[] = ['global', 'local', 'ephemeral', 'ignore', 'unclassified'];

interface Sample {
  labels?: Record<string, string>;
  value: number;
}

function metric(name: string, help: string, samples: Sample[]): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`];
  for (const s of samples) {
    const labels = s.labels
      ? `{${Object.entries(s.labels)
          .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
          .join(',')}}`
      : '';
    lines.push(`${name}${labels} ${formatValue(s.value)}`);
  }
  return lines.join('\n');
}

function formatValue(v: number): string {
  return Number.isFinite(v) ? String(v) : 'NaN';
}

function seconds(iso: string): number {
  return Date.parse(iso) / 1000;
}

/**
 * The figures of the last run. Per-run figures (rows, tables, bytes, files,
 * downtime) are left out after a failed run rather than reported as zero: an
 * absent series reads as "unknown", a zero as "backed up nothing".
 * last_success_timestamp_seconds is 0 when there never was a success.
 */
export function renderMetrics(record: StatusRecord): string {
  const blocks = [
    metric('schema_backup_last_success_timestamp_seconds', 'Unix time the last successful backup finished (0: never).', [
      { value: record.lastSuccessAt ? seconds(record.lastSuccessAt) : 0 },
    ]),
    metric('schema_backup_last_run_timestamp_seconds', 'Unix time the last backup run finished.', [{ value: seconds(record.finishedAt) }]),
    metric('schema_backup_last_run_duration_seconds', 'Duration of the last backup run.', [{ value: record.durationMs / 1000 }]),
    metric('schema_backup_last_run_success', '1 if the last backup run succeeded, else 0.', [{ value: record.result === 'success' ? 1 : 0 }]),
  ];
  if (record.verify) {
    blocks.push(
      metric('schema_backup_last_verify_success', '1 if the last verification (verify_after_backup) passed, else 0.', [{ value: record.verify.ok ? 1 : 0 }]),
      metric('schema_backup_last_verify_timestamp_seconds', 'Unix time the last verification finished.', [{ value: seconds(record.verify.at ?? record.finishedAt) }]),
    );
  }
  const perClass = record.perClass;
  if (perClass) {
    blocks.push(
      metric(
        'schema_backup_rows_total',
        'Rows written by the last run, per table class.',
        ROW_CLASSES.map((cls) => ({ labels: { class: cls }, value: perClass[cls]?.rows ?? 0 })),
      ),
      metric(
        'schema_backup_tables',
        'Tables seen by the last run, per table class.',
        TABLE_CLASSES.map((cls) => ({ labels: { class: cls }, value: perClass[cls]?.tables ?? 0 })),
      ),
    );
  }
  if (record.bytesWritten !== null) {
    blocks.push(metric('schema_backup_bytes_written', 'Bytes written by the last run.', [{ value: record.bytesWritten }]));
  }
  if (record.filesChanged !== null) {
    blocks.push(metric('schema_backup_files_changed', 'Files in the backup directory changed by the last run.', [{ value: record.filesChanged }]));
  }
  const storage = record.storage;
  if (storage) {
    blocks.push(
      metric(
        'schema_backup_filesystem_free_bytes',
        'Free bytes on the filesystem of each backup directory after the last run.',
        storage.filesystems.map((f) => ({ labels: { dir: f.dir, path: f.path }, value: f.freeBytes })),
      ),
    );
    if (storage.userSnapshots !== null) {
      blocks.push(metric('schema_backup_user_data_snapshots', 'Complete user-data snapshots in user_data_backup_dir after the last run.', [{ value: storage.userSnapshots }]));
    }
  }
  if (record.result === 'success') {
    blocks.push(
      metric('schema_backup_downtime_seconds', 'Time the consumers were stopped during the last run (0: none stopped).', [
        { value: (record.downtimeMs ?? 0) / 1000 },
      ]),
    );
  }
  return `${blocks.join('\n')}\n`;
}

export async function writeMetrics(file: string, record: StatusRecord): Promise<void> {
  await fs.mkdir(dirname(file), { recursive: true });
  // 0644 whatever the umask (the unit sets 0077): node_exporter reads it as another user.
  await writeFileAtomic(file, renderMetrics(record), 0o644);
}
