import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { renderMetrics, writeMetrics } from '../../src/bookkeeping/metrics';
import { failureRecord, successRecord } from '../../src/bookkeeping/status';
import { StoreError } from '../../src/errors';
import { sampleSummary } from '../helpers/summary';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

afterAll(cleanupTempDirs);

const ok = successRecord(
  sampleSummary({
    finishedAt: '2024-06-30T03:00:42.500Z',
    durationMs: 42_500,
    hostDir: '/x/h1',
    views: 0,
    filesChanged: ['a', 'b', 'c'],
    userSnapshot: null,
    services: null,
    warnings: [],
  }),
  { nextRun: null },
);

describe('renderMetrics', () => {
  it('renders every metric of a successful run with HELP and TYPE', () => {
    const text = renderMetrics(ok);
    const t = Date.parse('2024-06-30T03:00:42.500Z') / 1000;
    expect(text).toBe(
      [
        '# HELP schema_backup_last_success_timestamp_seconds Unix time the last successful backup finished (0: never).',
        '# TYPE schema_backup_last_success_timestamp_seconds gauge',
        `schema_backup_last_success_timestamp_seconds ${t}`,
        '# HELP schema_backup_last_run_timestamp_seconds Unix time the last backup run finished.',
        '# TYPE schema_backup_last_run_timestamp_seconds gauge',
        `schema_backup_last_run_timestamp_seconds ${t}`,
        '# HELP schema_backup_last_run_duration_seconds Duration of the last backup run.',
        '# TYPE schema_backup_last_run_duration_seconds gauge',
        'schema_backup_last_run_duration_seconds 42.5',
        '# HELP schema_backup_last_run_success 1 if the last backup run succeeded, else 0.',
        '# TYPE schema_backup_last_run_success gauge',
        'schema_backup_last_run_success 1',
        '# HELP schema_backup_rows_total Rows written by the last run, per table class.',
        '# TYPE schema_backup_rows_total gauge',
        'schema_backup_rows_total{class="global"} 1000',
        'schema_backup_rows_total{class="local"} 50',
        'schema_backup_rows_total{class="ephemeral"} 0',
        'schema_backup_rows_total{class="unclassified"} 7',
        '# HELP schema_backup_tables Tables seen by the last run, per table class.',
        '# TYPE schema_backup_tables gauge',
        'schema_backup_tables{class="global"} 10',
        'schema_backup_tables{class="local"} 4',
        'schema_backup_tables{class="ephemeral"} 2',
        'schema_backup_tables{class="ignore"} 1',
        'schema_backup_tables{class="unclassified"} 1',
        '# HELP schema_backup_bytes_written Bytes written by the last run.',
        '# TYPE schema_backup_bytes_written gauge',
        'schema_backup_bytes_written 65536',
        '# HELP schema_backup_files_changed Files in the backup directory changed by the last run.',
        '# TYPE schema_backup_files_changed gauge',
        'schema_backup_files_changed 3',
        '# HELP schema_backup_downtime_seconds Time the consumers were stopped during the last run (0: none stopped).',
        '# TYPE schema_backup_downtime_seconds gauge',
        'schema_backup_downtime_seconds 0',
        '',
      ].join('\n'),
    );
  });

  it('after a failure: success 0, last success carried over, per-run figures left out', () => {
    const failed = failureRecord({
      startedAt: new Date('2024-07-01T03:00:00Z'),
      finishedAt: new Date('2024-07-01T03:00:02Z'),
      error: new StoreError('disk full'),
      previous: ok,
      nextRun: null,
    });
    const text = renderMetrics(failed);
    expect(text).toContain('schema_backup_last_run_success 0\n');
    expect(text).toContain(`schema_backup_last_success_timestamp_seconds ${Date.parse('2024-06-30T03:00:42.500Z') / 1000}\n`);
    expect(text).toContain(`schema_backup_last_run_timestamp_seconds ${Date.parse('2024-07-01T03:00:02Z') / 1000}\n`);
    expect(text).not.toContain('schema_backup_rows_total');
    expect(text).not.toContain('schema_backup_bytes_written');
    expect(text).not.toContain('schema_backup_downtime_seconds');
  });

  it('never a success: last success timestamp 0', () => {
    const failed = failureRecord({ startedAt: new Date(0), finishedAt: new Date(1000), error: new Error('x'), previous: null, nextRun: null });
    expect(renderMetrics(failed)).toContain('schema_backup_last_success_timestamp_seconds 0\n');
  });

  it('every sample line is `name{labels} number`', () => {
    for (const line of renderMetrics(ok).trimEnd().split('\n')) {
      if (line.startsWith('#')) continue;
      expect(line).toMatch(/^schema_backup_[a-z_]+(\{class="[a-z]+"\})? -?\d+(\.\d+)?$/);
    }
  });
});

describe('writeMetrics', () => {
  it('writes world-readable, atomically (no temp file left), creating the directory', async () => {
    const dir = tempDir('sb-metrics-');
    const file = join(dir, 'textfile', 'schema_backup.prom');
    const old = process.umask(0o077);
    try {
      await writeMetrics(file, ok);
    } finally {
      process.umask(old);
    }
    expect(readFileSync(file, 'utf8')).toBe(renderMetrics(ok));
    expect(statSync(file).mode & 0o777).toBe(0o644);
    expect(readdirSync(join(dir, 'textfile'))).toEqual(['schema_backup.prom']);
  });
});
