import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { BackupSummary } from '../../src/domain/summary';
import type { BackupConfig } from '../../src/config/types';
import { runDaemon, type DaemonOptions } from '../../src/daemon/daemon';
import { createNotifier, type Notifier } from '../../src/daemon/notify';
import type { StatusRecord } from '../../src/bookkeeping/status';
import { ConfigError, DatabaseError, EXIT, StoreError } from '../../src/errors';
import { createLogger } from '../../src/log';
import { openNotifySocket } from '../helpers/notify-socket';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';
import { sampleSummary } from '../helpers/summary';

const EVERY_SECOND = '* * * * * *';
const NEVER_SOON = '0 0 1 1 *'; // once a year, on 1 January

afterAll(cleanupTempDirs);

function makeConfig(dir: string, over: Partial<BackupConfig> = {}): BackupConfig {
  return {
    file: join(dir, 'schema_backup.conf'),
    csv2BackupDir: join(dir, 'csv2'),
    userDataBackupDir: null,
    providers: [],
    consumers: [],
    classes: { global: [], local: [], ephemeral: [], ignore: [] },
    quiesce: 'stop',
    pauseInterval: 0,
    dbConfig: null,
    schedule: EVERY_SECOND,
    stateDir: join(dir, 'state'),
    statusFile: join(dir, 'state', 'status.json'),
    metricsFile: join(dir, 'metrics', 'schema_backup.prom'),
    retention: null,
    compress: 'none',
    systemctlTimeout: 5,
    verifyAfterBackup: false,
    verifyDatabase: null,
    api: null,
    ...over,
  };
}

function makeSummary(startedAt: Date): BackupSummary {
  const finishedAt = new Date();
  return sampleSummary({
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    hostName: 'testhost',
    hostDir: '/tmp/x/testhost',
    perClass: {
      global: { tables: 3, rows: 30 },
      local: { tables: 2, rows: 20 },
      ephemeral: { tables: 1, rows: 0 },
      ignore: { tables: 1, rows: 0 },
      unclassified: { tables: 0, rows: 0 },
    },
    views: 0,
    bytesWritten: 1234,
    filesChanged: ['a', 'b'],
    commit: 'abc123',
    userSnapshot: null,
    services: null,
    warnings: [],
  });
}

/** Our own seam: records what the daemon asked of systemd. */
function recordingNotifier(): Notifier & { events: string[] } {
  const events: string[] = [];
  return {
    events,
    ready: () => events.push('READY'),
    status: (t) => events.push(`STATUS ${t}`),
    watchdog: () => events.push('WATCHDOG'),
    stopping: () => events.push('STOPPING'),
    flush: () => Promise.resolve(),
  };
}

function capture(): { log: ReturnType<typeof createLogger>; lines: () => string[] } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  return { log: createLogger({ stream, journal: true, level: 'debug' }), lines: () => text.split('\n').filter(Boolean) };
}

async function until(what: string, pred: () => boolean, timeoutMs = 8000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface RunCall {
  config: BackupConfig;
  startedAt: number;
  endedAt: number | null;
  aborted: boolean;
}

/** A runOnce of our own: records its calls; each call does what `behave` says for its index. */
function recordingRunner(behave: (index: number, signal: AbortSignal) => Promise<void> = () => Promise.resolve()) {
  const calls: RunCall[] = [];
  let active = 0;
  let maxActive = 0;
  const runOnce = async (config: BackupConfig, signal: AbortSignal): Promise<BackupSummary> => {
    const call: RunCall = { config, startedAt: Date.now(), endedAt: null, aborted: false };
    const index = calls.push(call) - 1;
    active++;
    maxActive = Math.max(maxActive, active);
    try {
      await behave(index, signal);
      return makeSummary(new Date(call.startedAt));
    } finally {
      call.aborted = signal.aborted;
      call.endedAt = Date.now();
      active--;
    }
  };
  return { runOnce, calls, maxActive: () => maxActive };
}

/** Waits (in the runner) until aborted or `ms` elapsed; an abort rejects after `safeEndMs`, like the real runner's cleanup. */
function slowRun(ms: number, safeEndMs = 0, onSafeEnd?: () => void): (i: number, s: AbortSignal) => Promise<void> {
  return (_i, signal) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        setTimeout(() => {
          onSafeEnd?.();
          reject(new Error('backup aborted'));
        }, safeEndMs);
      });
    });
}

function readRecord(file: string): StatusRecord {
  return JSON.parse(readFileSync(file, 'utf8')) as StatusRecord;
}

/** Starts runDaemon with test defaults; stop() sends SIGTERM and returns the exit code. */
function start(over: Partial<DaemonOptions> & { runOnce: DaemonOptions['runOnce'] }) {
  const signals = new EventEmitter();
  const notifier = recordingNotifier();
  const { log, lines } = capture();
  const dir = tempDir('sb-daemon-');
  const config = makeConfig(dir);
  const options: DaemonOptions = { loadConfig: () => config, notifier, log, signals, env: {}, ...over };
  const exit = runDaemon(options);
  return {
    dir,
    config,
    signals,
    notifier: options.notifier as Notifier & { events?: string[] },
    events: notifier.events,
    lines,
    exit,
    stop: async (): Promise<number> => {
      signals.emit('SIGTERM');
      return exit;
    },
  };
}

describe('runDaemon', () => {
  it('runs on the schedule, records status and metrics after each run, and stops on SIGTERM with 0', async () => {
    const runner = recordingRunner();
    const d = start({ runOnce: runner.runOnce });
    await until('two runs', () => runner.calls.length >= 2 && runner.calls[1]?.endedAt !== null);
    await until('status file of the second run', () => existsSync(d.config.statusFile) && readRecord(d.config.statusFile).startedAt === new Date(runner.calls[1]!.startedAt).toISOString());
    expect(await d.stop()).toBe(EXIT.ok);

    // Runs come about once a second, not back to back.
    expect(runner.calls[1]!.startedAt - runner.calls[0]!.startedAt).toBeGreaterThan(500);
    expect(runner.calls.every((c) => c.config === d.config)).toBe(true);

    const rec = readRecord(d.config.statusFile);
    expect(rec).toMatchObject({ result: 'success', exitCode: 0, error: null, bytesWritten: 1234, filesChanged: 2, commit: 'abc123' });
    expect(rec.lastSuccessAt).toBe(rec.finishedAt);
    expect(Date.parse(rec.nextRun ?? '')).toBeGreaterThan(Date.parse(rec.finishedAt) - 1000);
    const metrics = readFileSync(d.config.metricsFile!, 'utf8');
    expect(metrics).toContain('schema_backup_last_run_success 1\n');
    expect(metrics).toContain('schema_backup_rows_total{class="global"} 30\n');

    // systemd saw: READY, idle/running statuses, STOPPING, in that order.
    expect(d.events[0]).toBe('READY');
    expect(d.events[1]).toMatch(/^STATUS idle; next run \d{4}-.*; (no run yet|last run succeeded at .*)$/);
    expect(d.events.some((e) => e.startsWith('STATUS running backup'))).toBe(true);
    expect(d.events[d.events.length - 1]).toBe('STOPPING');
    expect(d.lines().some((l) => l === '<6>backup run started')).toBe(true);

    // Nothing runs after the stop.
    const count = runner.calls.length;
    await sleep(1300);
    expect(runner.calls.length).toBe(count);
  });

  it('skips, and logs, a tick that comes while the previous run is still in progress', async () => {
    const runner = recordingRunner(slowRun(2600));
    const d = start({ runOnce: runner.runOnce });
    await until('an overlapping tick', () => d.lines().some((l) => l.startsWith('<4>previous run still in progress, tick skipped runningSince=')));
    await until('the slow run to end and a second to start', () => runner.calls.length >= 2, 6000);
    expect(await d.stop()).toBe(EXIT.ok);
    expect(runner.maxActive()).toBe(1);
    // The second run started only after the first had ended.
    expect(runner.calls[1]!.startedAt).toBeGreaterThanOrEqual(runner.calls[0]!.endedAt!);
    expect(d.lines().filter((l) => l.includes('tick skipped')).length).toBeGreaterThanOrEqual(1);
  });

  it('records a failed run, lives on, carries the last success over, and applies retention only after a success', async () => {
    const dir = tempDir('sb-daemon-ret-');
    const userData = join(dir, 'userdata');
    const old = ['20200101000000', '20200102000000', '20200103000000'];
    for (const n of old) mkdirSync(join(userData, n), { recursive: true });
    symlinkSync('20200102000000', join(userData, 'latest'));
    const config = makeConfig(dir, { userDataBackupDir: userData, retention: { keep: 1, maxAgeDays: null } });

    const records: StatusRecord[] = [];
    const listings: string[][] = [];
    const runner = recordingRunner(async (i) => {
      if (i === 0) throw new DatabaseError('connect ECONNREFUSED 127.0.0.1:3306');
      if (i === 2) throw new StoreError('disk full');
    });
    const d = start({
      runOnce: runner.runOnce,
      loadConfig: () => config,
      afterRun: async () => {
        records.push(readRecord(config.statusFile));
        listings.push(readdirSync(userData).sort());
      },
    });
    await until('three recorded runs', () => records.length >= 3);
    expect(await d.stop()).toBe(EXIT.ok);

    const [first, second, third] = records as [StatusRecord, StatusRecord, StatusRecord];
    expect(first).toMatchObject({ result: 'failure', exitCode: EXIT.database, error: 'connect ECONNREFUSED 127.0.0.1:3306', lastSuccessAt: null, perClass: null });
    expect(second).toMatchObject({ result: 'success', exitCode: 0 });
    expect(third).toMatchObject({ result: 'failure', exitCode: EXIT.store, error: 'disk full', lastSuccessAt: second.finishedAt });
    expect(d.lines()).toContain(`<3>backup run failed err="connect ECONNREFUSED 127.0.0.1:3306" exitCode=4 aborted=false`);
    expect(readFileSync(config.metricsFile!, 'utf8')).toContain('schema_backup_last_run_success 0\n');
    // The failure left the snapshots alone; the success removed the oldest (the newest and the one latest points to stay).
    expect(listings[0]).toEqual([...old, 'latest']);
    expect(listings[1]).toEqual(['20200102000000', '20200103000000', 'latest']);
    expect(d.lines()).toContain(`<6>user-data snapshot removed by retention snapshot=${join(userData, '20200101000000')}`);
    expect(d.events.some((e) => /^STATUS idle; .*; last run FAILED \(exit 5\)/.test(e))).toBe(true);
  });

  it('SIGHUP with a valid configuration reschedules with the new schedule', async () => {
    const runner = recordingRunner();
    const dir = tempDir('sb-daemon-hup-');
    let config = makeConfig(dir, { schedule: NEVER_SOON });
    const d = start({ runOnce: runner.runOnce, loadConfig: () => config });
    await until('READY', () => d.events.includes('READY'));
    await sleep(1200);
    expect(runner.calls).toHaveLength(0);

    config = makeConfig(dir, { schedule: EVERY_SECOND, consumers: ['reloaded.service'] });
    d.signals.emit('SIGHUP');
    await until('a run with the new configuration', () => runner.calls.length >= 1);
    expect(runner.calls[0]!.config.consumers).toEqual(['reloaded.service']);
    expect(d.lines().some((l) => l.startsWith(`<6>configuration reloaded schedule="${EVERY_SECOND}"`))).toBe(true);
    expect(await d.stop()).toBe(EXIT.ok);
  });

  it('SIGHUP with an invalid configuration logs why and keeps the old one', async () => {
    const runner = recordingRunner();
    const dir = tempDir('sb-daemon-hup-');
    const good = makeConfig(dir, { schedule: EVERY_SECOND });
    let next: () => BackupConfig = () => good;
    const d = start({ runOnce: runner.runOnce, loadConfig: () => next() });
    await until('READY', () => d.events.includes('READY'));

    next = () => {
      throw new ConfigError([{ file: good.file, line: 7, key: 'consumers', message: 'expected a list' }]);
    };
    d.signals.emit('SIGHUP');
    expect(d.lines()).toContain(`<3>configuration reload failed, keeping the previous configuration problem="${good.file}:7: consumers: expected a list"`);

    // Valid YAML but a schedule node-cron refuses: also refused, old schedule stays.
    next = () => makeConfig(dir, { schedule: 'every night', consumers: ['bad.service'] });
    d.signals.emit('SIGHUP');
    expect(d.lines().some((l) => l.startsWith('<3>configuration reload failed, keeping the previous configuration problem=') && l.includes('schedule'))).toBe(true);

    const before = runner.calls.length;
    await until('runs go on with the old configuration', () => runner.calls.length >= before + 2);
    expect(runner.calls.every((c) => c.config === good)).toBe(true);
    expect(await d.stop()).toBe(EXIT.ok);
  });

  it('SIGTERM during a run aborts it, waits for its safe end, and resolves 0', async () => {
    let safeEnd = false;
    const runner = recordingRunner(slowRun(60_000, 400, () => (safeEnd = true)));
    const d = start({ runOnce: runner.runOnce });
    await until('a run in progress', () => runner.calls.length === 1);
    await sleep(100);
    const t0 = Date.now();
    d.signals.emit('SIGTERM');
    d.signals.emit('SIGTERM'); // a second signal changes nothing
    expect(d.events).toContain('STOPPING');
    expect(await d.exit).toBe(EXIT.ok);
    expect(safeEnd).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(350);
    expect(runner.calls).toHaveLength(1);
    expect(runner.calls[0]!.aborted).toBe(true);
    // The interrupted run is on record, not lost.
    expect(readRecord(d.config.statusFile)).toMatchObject({ result: 'failure', error: 'backup aborted', nextRun: null });
    expect(d.lines()).toContain('<6>stopping signal=SIGTERM runInProgress=true');
    expect(d.lines()).toContain('<6>already stopping signal=SIGTERM');
  });

  it('an invalid configuration at start resolves with EXIT.config at once, saying why', async () => {
    const runner = recordingRunner();
    let recovered = false;
    const d = start({
      runOnce: runner.runOnce,
      recover: async () => {
        recovered = true;
      },
      loadConfig: () => {
        throw new ConfigError([{ file: '/etc/sb.conf', line: 3, key: 'schedule', message: 'not a cron expression' }]);
      },
    });
    expect(await d.exit).toBe(EXIT.config);
    expect(d.lines()).toEqual(['<3>invalid configuration, not starting problem="/etc/sb.conf:3: schedule: not a cron expression"']);
    expect(d.events).toEqual([]);
    expect(recovered).toBe(false);
    expect(runner.calls).toHaveLength(0);
  });

  it('runs recovery before READY and before any run; a failing recovery is logged and the daemon starts anyway', async () => {
    const order: string[] = [];
    const runner = recordingRunner(async () => {
      order.push('run');
    });
    const notifier = recordingNotifier();
    const d = start({
      runOnce: runner.runOnce,
      notifier: { ...notifier, ready: () => (order.push('READY'), notifier.ready()) },
      recover: async () => {
        order.push('recover');
        await sleep(300);
        throw new Error('systemctl start app.service failed');
      },
    });
    await until('a run', () => order.includes('run'));
    expect(await d.stop()).toBe(EXIT.ok);
    expect(order.slice(0, 3)).toEqual(['recover', 'READY', 'run']);
    expect(d.lines()).toContain('<3>recovery of an interrupted run failed err="systemctl start app.service failed"');
  });

  it('sends WATCHDOG=1 to a real notify socket every half WATCHDOG_USEC, also during a long run', async () => {
    const sock = await openNotifySocket();
    try {
      const env = { ...process.env, NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '600000' };
      const { log } = capture();
      const real = createNotifier(env, log);
      const rec = recordingNotifier();
      // WATCHDOG=1 goes through the real notifier (the binary, with our env); the rest is recorded.
      const notifier: Notifier = { ...rec, watchdog: () => real.watchdog(), flush: () => real.flush() };
      let runStart = 0;
      const runner = recordingRunner(async (i, signal) => {
        if (i === 0) runStart = Date.now();
        await slowRun(2500)(i, signal);
      });
      const d = start({ runOnce: runner.runOnce, notifier, env });
      await until('the long run to end', () => runner.calls[0]?.endedAt != null, 8000);
      const runEnd = runner.calls[0]!.endedAt!;
      expect(await d.stop()).toBe(EXIT.ok);
      expect(runEnd - runStart).toBeGreaterThanOrEqual(2400);
      // Every 300 ms: about 8 while the 2.5 s run was in progress. Each ping spawns systemd-notify, which a loaded
      // machine slows down, so the count is not asserted; that pings keep coming through the whole run is.
      const duringRun = sock.timedMessages().filter((m) => m.message === 'WATCHDOG=1' && m.at > runStart && m.at <= runEnd);
      const middle = (runStart + runEnd) / 2;
      expect(duringRun.filter((m) => m.at <= middle).length).toBeGreaterThanOrEqual(1);
      expect(duringRun.filter((m) => m.at > middle).length).toBeGreaterThanOrEqual(1);
      expect(duringRun.length).toBeGreaterThanOrEqual(3);
    } finally {
      await sock.close();
    }
  });
});
