/**
 * The daemon's control for services beside the schedule (the HTTP API):
 * one activity at a time, backups recorded as ticks are, tasks aborted and
 * awaited on SIGTERM, a tick during a short task deferred (not lost), a
 * service that cannot start ends the daemon with its code.
 */
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import type { BackupSummary } from '../../src/domain/summary';
import type { BackupConfig } from '../../src/config/types';
import { runDaemon, type DaemonControl, type DaemonService } from '../../src/daemon/daemon';
import { ConfigError, EXIT } from '../../src/errors';
import { createLogger } from '../../src/log';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

afterAll(() => cleanupTempDirs());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function config(schedule = '0 0 1 1 *'): BackupConfig {
  const dir = tempDir('sb-control-');
  return {
    file: `${dir}/sb.conf`, csv2BackupDir: `${dir}/git`, userDataBackupDir: null, providers: [], consumers: [],
    classes: { global: [], local: [], ephemeral: [], ignore: [] }, quiesce: 'stop', pauseInterval: 0, dbConfig: null, schedule,
    stateDir: `${dir}/state`, statusFile: `${dir}/state/status.json`, metricsFile: null, retention: null, compress: 'none',
    systemctlTimeout: 5, verifyAfterBackup: false, verifyDatabase: null, api: null,
  };
}

function summary(): BackupSummary {
  const now = new Date().toISOString();
  return {
    startedAt: now, finishedAt: now, durationMs: 1, hostName: 'h', hostDir: '/x', views: 0, triggers: 0, bytesWritten: 0, filesChanged: [],
    commit: null, userSnapshot: null, ephemeralDir: null, services: null, warnings: [], errors: [],
    perClass: { global: { tables: 0, rows: 0 }, local: { tables: 0, rows: 0 }, ephemeral: { tables: 0, rows: 0 }, ignore: { tables: 0, rows: 0 }, unclassified: { tables: 0, rows: 0 } },
  };
}

const notifier = { ready() {}, status() {}, watchdog() {}, stopping() {}, flush: async () => undefined };

function harness(o: { schedule?: string; runOnce?: (c: BackupConfig, s: AbortSignal, opts?: { mode?: string }) => Promise<BackupSummary>; failStart?: boolean }) {
  const signals = new EventEmitter();
  let control: DaemonControl | null = null;
  const stopped: string[] = [];
  const service: DaemonService = {
    async start(c) {
      if (o.failStart) throw new ConfigError('cannot listen');
      control = c;
    },
    async stop() {
      stopped.push('api');
    },
  };
  const stream = new PassThrough();
  let log = '';
  stream.on('data', (d) => (log += d));
  const runs: string[] = [];
  const exit = runDaemon({
    loadConfig: () => config(o.schedule),
    runOnce: o.runOnce ?? (async (_c, _s, opts) => (runs.push(opts?.mode ?? 'configured'), summary())),
    services: [service],
    notifier,
    log: createLogger({ stream }),
    signals,
    env: {},
  });
  return { exit, signals, control: () => control as DaemonControl, stopped, runs, log: () => log };
}

test('startBackup runs with the asked mode and resolves with its record; nothing else starts meanwhile', async () => {
  let release: () => void = () => undefined;
  const h = harness({ runOnce: async (_c, _s, opts) => (await new Promise<void>((r) => (release = r)), void opts, summary()) });
  await sleep(100);
  const started = h.control().startBackup({ mode: 'online' });
  expect(started).not.toBeNull();
  expect(h.control().startBackup({})).toBeNull();
  expect(h.control().startTask('restore', async () => 1)).toBeNull();
  release();
  expect(await started?.done).toMatchObject({ result: 'success', exitCode: 0 });
  expect(h.control().startTask('restore', async () => 1)).not.toBeNull();
  h.signals.emit('SIGTERM');
  expect(await h.exit).toBe(EXIT.ok);
  expect(h.stopped).toEqual(['api']);
});

test('SIGTERM aborts a task and the daemon exits once it has ended', async () => {
  const h = harness({});
  await sleep(100);
  let ended = false;
  const task = h.control().startTask('restore', (signal) => new Promise<void>((resolve) => signal.addEventListener('abort', () => setTimeout(() => ((ended = true), resolve()), 200))));
  expect(task).not.toBeNull();
  h.signals.emit('SIGTERM');
  expect(await h.exit).toBe(EXIT.ok);
  expect(ended).toBe(true);
  expect(h.control().startBackup({})).toBeNull();
});

test('a tick during a short task runs once it ends; during a long one it is skipped', async () => {
  const h = harness({ schedule: '* * * * * *' });
  await sleep(100);
  // Hold a short task across at least one tick.
  await h.control().startTask('archive', () => sleep(1300), { short: true });
  await sleep(150);
  expect(h.runs.length).toBeGreaterThanOrEqual(1);
  h.signals.emit('SIGTERM');
  await h.exit;
  expect(h.log()).not.toMatch(/tick skipped/);
});

test('a service that cannot start ends the daemon with its exit code', async () => {
  const h = harness({ failStart: true });
  expect(await h.exit).toBe(EXIT.config);
  expect(h.log()).toMatch(/a service could not start, not starting/);
});
