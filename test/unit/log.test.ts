import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createLogger, LOG_LEVELS, type LoggerOptions } from '../../src/log';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

afterAll(cleanupTempDirs);

function capture(options: LoggerOptions): { log: ReturnType<typeof createLogger>; lines: () => string[] } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  return { log: createLogger({ ...options, stream }), lines: () => text.split('\n').filter(Boolean) };
}

describe('createLogger', () => {
  it('under systemd: syslog priority prefixes, no timestamp, metadata as key=value', () => {
    const { log, lines } = capture({ journal: true, level: 'debug' });
    log.error('table dump failed', { table: 'users', err: new Error('Lost connection') });
    log.warn('consumer did not stop', { service: 'app.service', timeoutS: 90 });
    log.info('backup run finished', { commit: 'abc', files: ['a', 'b'] });
    log.debug('plan', { tables: 3 });
    expect(lines()).toEqual([
      '<3>table dump failed table=users err="Lost connection"',
      '<4>consumer did not stop service=app.service timeoutS=90',
      '<6>backup run finished commit=abc files=["a","b"]',
      '<7>plan tables=3',
    ]);
  });

  it('defaults to journald style when JOURNAL_STREAM is set', () => {
    const saved = process.env.JOURNAL_STREAM;
    process.env.JOURNAL_STREAM = '8:12345';
    try {
      const { log, lines } = capture({});
      log.info('hello');
      expect(lines()).toEqual(['<6>hello']);
    } finally {
      if (saved === undefined) delete process.env.JOURNAL_STREAM;
      else process.env.JOURNAL_STREAM = saved;
    }
  });

  it('prefixes every line of a multi-line message (journald splits at newlines)', () => {
    const { log, lines } = capture({ journal: true });
    log.error('invalid configuration:\n/etc/a.conf:3: schedule: bad\n/etc/a.conf:5: consumers: bad');
    expect(lines()).toEqual(['<3>invalid configuration:', '<3>/etc/a.conf:3: schedule: bad', '<3>/etc/a.conf:5: consumers: bad']);
  });

  it('on a terminal: time, level and message', () => {
    const { log, lines } = capture({ journal: false });
    log.warn('tick skipped', { runningSince: '2024-06-30T03:00:00Z' });
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d warn  tick skipped runningSince=2024-06-30T03:00:00Z$/);
  });

  it('respects the level', () => {
    const { log, lines } = capture({ journal: true, level: 'warn' });
    log.info('not shown');
    log.debug('not shown either');
    log.warn('shown');
    expect(lines()).toEqual(['<4>shown']);
    expect(LOG_LEVELS).toEqual(['error', 'warn', 'info', 'debug']);
  });

  it('prints metadata as given, whatever the key (no special-casing: callers never log secrets)', () => {
    const { log, lines } = capture({ journal: true });
    log.info('connected', { user: 'backup', password_file: '/etc/sb/db.cnf' });
    expect(lines()).toEqual(['<6>connected user=backup password_file=/etc/sb/db.cnf']);
  });

  it('also writes JSON lines to a file, with errors as name and message', async () => {
    const file = join(tempDir('sb-log-'), 'log.jsonl');
    const { log } = capture({ journal: true, jsonFile: file });
    log.error('table dump failed', { table: 'users', err: new TypeError('bad row') });
    log.info('done', { rows: 5 });
    await new Promise<void>((resolve) => {
      log.on('finish', () => resolve());
      log.end();
    });
    // The file transport may still be flushing after 'finish'.
    const deadline = Date.now() + 3000;
    let entries: Record<string, unknown>[] = [];
    while (Date.now() < deadline) {
      entries = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
      if (entries.length === 2) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(entries).toHaveLength(2);
    expect(entries[0]).toMatchObject({ level: 'error', message: 'table dump failed', table: 'users', err: { name: 'TypeError', message: 'bad row' } });
    expect(typeof entries[0]!.timestamp).toBe('string');
    expect(entries[1]).toMatchObject({ level: 'info', message: 'done', rows: 5 });
  });
});
