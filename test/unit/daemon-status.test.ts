import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseStatusArgs, statusCommand } from '../../src/cli/status-command';
import { defaultMaxAgeHours } from '../../src/daemon/schedule';
import { failureRecord, readStatus, statusReport, STATUS_EXIT, successRecord, writeStatus, type StatusRecord } from '../../src/bookkeeping/status';
import { DatabaseError, EXIT, VerifyError } from '../../src/errors';
import { sampleSummary } from '../helpers/summary';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

afterAll(cleanupTempDirs);

const NOW = new Date('2024-06-30T12:00:00Z');

const summary = sampleSummary;

describe('status records', () => {
  it('a success records the figures and is its own last success', () => {
    const r = successRecord(summary(), { nextRun: new Date('2024-07-01T03:00:00Z') });
    expect(r).toMatchObject({
      result: 'success',
      exitCode: 0,
      error: null,
      filesChanged: 3,
      bytesWritten: 65536,
      commit: 'deadbeef',
      downtimeMs: 3500,
      userSnapshot: '/var/backups/sb/20240630030000',
      nextRun: '2024-07-01T03:00:00.000Z',
      lastSuccessAt: '2024-06-30T03:00:42.000Z',
    });
    expect(r.perClass?.unclassified).toEqual({ tables: 1, rows: 7 });
    expect('verify' in r).toBe(false);
  });

  it('a failure carries the last success over and takes the error exit code', () => {
    const previous = successRecord(summary(), { nextRun: null });
    const r = failureRecord({
      startedAt: new Date('2024-07-01T03:00:00Z'),
      finishedAt: new Date('2024-07-01T03:00:05Z'),
      error: new DatabaseError('connect ECONNREFUSED'),
      previous,
      nextRun: new Date('2024-07-02T03:00:00Z'),
    });
    expect(r).toMatchObject({ result: 'failure', exitCode: EXIT.database, error: 'connect ECONNREFUSED', durationMs: 5000, perClass: null, lastSuccessAt: '2024-06-30T03:00:42.000Z' });
    expect(failureRecord({ startedAt: NOW, finishedAt: NOW, error: 'boom', previous: null, nextRun: null })).toMatchObject({ exitCode: EXIT.internal, error: 'boom', lastSuccessAt: null });
  });

  it('is written atomically as readable JSON and read back; no file reads as null; a foreign file throws', async () => {
    const dir = tempDir('sb-status-');
    const file = join(dir, 'state', 'status.json');
    expect(await readStatus(file)).toBeNull();
    const r = successRecord(summary(), { nextRun: null, verify: { ok: true, message: null } });
    await writeStatus(file, r);
    expect(await readStatus(file)).toEqual(r);
    expect(statSync(file).mode & 0o777).toBe(0o644);
    expect(readFileSync(file, 'utf8').endsWith('}\n')).toBe(true);
    writeFileSync(file, '{"hello": 1}');
    await expect(readStatus(file)).rejects.toThrow('is not a schema_backup status record');
  });
});

describe('statusReport', () => {
  const ok = successRecord(summary(), { nextRun: new Date('2024-07-01T03:00:00Z') });

  it('a recent success is healthy (exit 0) and says what it did', () => {
    const rep = statusReport(ok, { now: NOW, maxAgeHours: 26 });
    expect(rep.exitCode).toBe(STATUS_EXIT.healthy);
    expect(rep.text).toMatch(/^schema_backup: OK\n/);
    expect(rep.text).toContain('last success:  2024-06-30T03:00:42.000Z (9.0 h ago)');
    expect(rep.text).toContain('next run:      2024-07-01T03:00:00.000Z');
    expect(rep.text).toContain('global 10 tables/1000 rows');
    expect(rep.text).toContain('commit:        deadbeef');
    expect(rep.text).toContain('downtime:      3.5 s');
    expect(rep.text).toContain('warning:       table x has no primary key');
    expect(rep.json).toMatchObject({ healthy: true, problems: [], status: ok });
  });

  it('a failed last run is unhealthy (exit 1) even with a recent success', () => {
    const failed = failureRecord({ startedAt: NOW, finishedAt: NOW, error: new DatabaseError('Access denied'), previous: ok, nextRun: null });
    const rep = statusReport(failed, { now: NOW, maxAgeHours: 26 });
    expect(rep.exitCode).toBe(STATUS_EXIT.unhealthy);
    expect(rep.exitCode).toBe(1);
    expect(rep.text).toMatch(/^schema_backup: PROBLEM\n  problem: last run failed \(exit code 4\): Access denied\n/);
    expect(rep.text).toContain('last success:  2024-06-30T03:00:42.000Z');
  });

  it('a success older than maxAgeHours is unhealthy (exit 1)', () => {
    const rep = statusReport(ok, { now: new Date('2024-07-02T12:00:00Z'), maxAgeHours: 26 });
    expect(rep.exitCode).toBe(1);
    expect(rep.text).toContain('problem: last success is 57.0 h old (more than 26 h)');
    expect(statusReport(ok, { now: new Date('2024-07-02T12:00:00Z'), maxAgeHours: 72 }).exitCode).toBe(0);
  });

  it('no success ever is unhealthy', () => {
    const failed = failureRecord({ startedAt: NOW, finishedAt: NOW, error: new Error('x'), previous: null, nextRun: null });
    const rep = statusReport(failed, { now: NOW, maxAgeHours: 26 });
    expect(rep.exitCode).toBe(1);
    expect(rep.text).toContain('problem: no successful run recorded');
    expect(rep.text).toContain('last success:  never');
  });

  it('a failed verification is a problem', () => {
    const v = failureRecord({ startedAt: NOW, finishedAt: NOW, error: new VerifyError('row count differs'), previous: ok, nextRun: null, verify: { ok: false, message: 'row count differs' } });
    const rep = statusReport(v, { now: NOW, maxAgeHours: 26 });
    expect(rep.exitCode).toBe(1);
    expect(rep.text).toContain('problem: verification failed: row count differs');
  });

  it('no status file is exit 3', () => {
    const rep = statusReport(null, { now: NOW, maxAgeHours: 26, file: '/var/lib/schema_backup/status.json' });
    expect(rep.exitCode).toBe(STATUS_EXIT.missing);
    expect(rep.exitCode).toBe(3);
    expect(rep.text).toContain('no status file at /var/lib/schema_backup/status.json');
  });
});

describe('status command', () => {
  function io(): { io: { stdout: Writable; stderr: Writable }; out: () => string; err: () => string } {
    let out = '';
    let err = '';
    const sink = (append: (s: string) => void): Writable =>
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          append(chunk.toString());
          cb();
        },
      });
    return { io: { stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)) }, out: () => out, err: () => err };
  }

  function configFile(dir: string, schedule = '0 3 * * *'): string {
    const file = join(dir, 'schema_backup.conf');
    writeFileSync(file, `global: [csv2_configuration]\nstate_dir: ${join(dir, 'state')}\nschedule: "${schedule}"\n`);
    return file;
  }

  it('parses its arguments', () => {
    expect(parseStatusArgs([])).toEqual({ help: false, json: false, maxAgeHours: null });
    expect(parseStatusArgs(['--json', '--max-age', '48', '--config=/etc/x.conf'])).toEqual({ help: false, json: true, maxAgeHours: 48, configPath: '/etc/x.conf' });
    expect(() => parseStatusArgs(['--max-age', '-1'])).toThrow('--max-age: expected a positive number of hours');
    expect(() => parseStatusArgs(['--max-age'])).toThrow('--max-age needs a value');
    expect(() => parseStatusArgs(['--verbose'])).toThrow('unknown argument "--verbose"');
  });

  it('defaults the max age to one schedule interval plus two hours', () => {
    expect(defaultMaxAgeHours('0 3 * * *')).toBe(26);
    expect(defaultMaxAgeHours('0 * * * *')).toBe(3);
  });

  it('reports a real status file with the configured path (text and --json)', async () => {
    const dir = tempDir('sb-statuscmd-');
    const conf = configFile(dir);
    const rec: StatusRecord = successRecord(summary({ finishedAt: new Date(Date.now() - 3_600_000).toISOString() }), { nextRun: null });
    await writeStatus(join(dir, 'state', 'status.json'), rec);

    const t = io();
    expect(await statusCommand(['--config', conf], t.io)).toBe(0);
    expect(t.out()).toMatch(/^schema_backup: OK\n/);
    expect(t.err()).toBe('');

    const j = io();
    expect(await statusCommand(['--json', '--max-age', '0.5', '--config', conf], j.io)).toBe(1);
    const parsed = JSON.parse(j.out()) as { healthy: boolean; problems: string[]; status: StatusRecord };
    expect(parsed.healthy).toBe(false);
    expect(parsed.problems[0]).toMatch(/^last success is 1\.0 h old \(more than 0.5 h\)$/);
    expect(parsed.status.commit).toBe('deadbeef');
  });

  it('exits 3 without a status file, 3 on a bad configuration, 2 on misuse', async () => {
    const dir = tempDir('sb-statuscmd-');
    const conf = configFile(dir);
    const a = io();
    expect(await statusCommand(['--config', conf], a.io)).toBe(3);
    expect(a.out()).toContain(`no status file at ${join(dir, 'state', 'status.json')}`);

    const bad = join(dir, 'bad.conf');
    writeFileSync(bad, 'global: [csv2_configuration]\nschedule: "every night"\n');
    const b = io();
    expect(await statusCommand(['--config', bad], b.io)).toBe(EXIT.config);
    expect(b.err()).toMatch(/^schema_backup status: .*bad\.conf.*schedule/m);

    const c = io();
    expect(await statusCommand(['--frobnicate'], c.io)).toBe(EXIT.usage);
    expect(c.err()).toContain('usage: schema_backup status');
  });
});
