/**
 * `schema_backup --daemon` end to end: the built CLI as a subprocess on a
 * schedule of a few seconds, a real unix datagram socket as NOTIFY_SOCKET,
 * real MariaDB servers (the shared one, and a throwaway mariadbd for the run
 * against a stopped database), real git, the fake systemctl acting on real
 * processes. Every run leaves its trace in the status file, which a poller
 * collects, so the tests can read the daemon's history back in order.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createConnection, type RowDataPacket } from 'mysql2/promise';
import { startPrivateServer, type PrivateServer } from '../../scripts/lib/mariadb-server';
import type { StatusRecord } from '../../src/bookkeeping/status';
import { EXIT } from '../../src/errors';
import { run } from '../../src/proc/run';
import { CLI, runCli, writeConfig, type ConfigSpec } from '../helpers/backup';
import { createTestDatabase, credentialsYaml, type TestDatabase } from '../helpers/db';
import { createFakeServices, type FakeCall, type FakeServices } from '../helpers/fake-services';
import { gitEnv, gitLog } from '../helpers/git';
import { openNotifySocket, type NotifySocket } from '../helpers/notify-socket';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

const HOST = 'h';
const EVERY_2S = '*/2 * * * * *';
/** Never within a test: the daemon starts and idles. */
const YEARLY = '0 0 1 1 *';
const CONSUMER = resolve(__dirname, '../helpers/consumer.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const cleanups: (() => Promise<void> | void)[] = [];
const daemons: Daemon[] = [];

afterEach(async () => {
  for (const d of daemons.splice(0)) if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL');
  for (const c of cleanups.splice(0).reverse()) await c();
});

afterAll(() => cleanupTempDirs());

async function until(what: string, pred: () => Promise<boolean> | boolean, ms = 20000, every = 50): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`not reached within ${ms} ms: ${what}`);
    await sleep(every);
  }
}

interface DaemonExit {
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface Daemon {
  child: ChildProcess;
  stderr(): string;
  /** Lines of stderr matching re. */
  count(re: RegExp): number;
  /** Waits until stderr has at least n lines matching re; fails early if the daemon exits. */
  waitLog(re: RegExp, n?: number, ms?: number): Promise<void>;
  done: Promise<DaemonExit>;
  /** The exit, which must come within ms (else SIGKILL and a failure). */
  exited(ms?: number): Promise<DaemonExit>;
  /** SIGTERM, then exited(ms). */
  stop(ms?: number): Promise<DaemonExit>;
}

/** `node dist/src/cli/schema_backup.js --daemon --config FILE --host-name h`, with exactly this environment. */
function startDaemon(config: string, env: NodeJS.ProcessEnv): Daemon {
  const child = spawn(process.execPath, [CLI, '--daemon', '--config', config, '--host-name', HOST], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  const done = new Promise<DaemonExit>((res, rej) => {
    child.on('error', rej);
    child.on('close', (code, signal) => res({ code: code ?? -1, signal, stdout, stderr }));
  });
  const count = (re: RegExp) => stderr.split('\n').filter((l) => re.test(l)).length;
  const d: Daemon = {
    child,
    stderr: () => stderr,
    count,
    done,
    waitLog: (re, n = 1, ms = 20000) =>
      until(`${n} log line(s) matching ${re}`, () => {
        if (count(re) >= n) return true;
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the daemon exited (${child.exitCode ?? child.signalCode}) before ${re} x${n}:\n${stderr}`);
        return false;
      }, ms),
    async exited(ms = 20000) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<null>((r) => (timer = setTimeout(() => r(null), ms)));
      const exit = await Promise.race([done, late]);
      clearTimeout(timer);
      if (exit === null) {
        child.kill('SIGKILL');
        throw new Error(`the daemon did not exit within ${ms} ms:\n${stderr}`);
      }
      return exit;
    },
    stop(ms = 20000) {
      child.kill('SIGTERM');
      return d.exited(ms);
    },
  };
  daemons.push(d);
  return d;
}

/** The test's own environment for the daemon: no systemd unless asked for, git kept away from ~/.gitconfig. */
function daemonEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...gitEnv(), ...extra };
  for (const key of ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID', 'JOURNAL_STREAM', 'SCHEMA_BACKUP_CONF'] as const) {
    if (!(key in extra)) delete env[key];
  }
  return env;
}

/** Polls the status file and keeps every distinct record (by finishedAt), in order. */
function watchStatus(file: string): { history: () => StatusRecord[]; current: () => StatusRecord | null } {
  const seen: StatusRecord[] = [];
  const poll = () => {
    let rec: StatusRecord;
    try {
      rec = JSON.parse(readFileSync(file, 'utf8')) as StatusRecord;
    } catch {
      return; // not there yet (it is replaced atomically, so never half-written)
    }
    if (seen[seen.length - 1]?.finishedAt !== rec.finishedAt) seen.push(rec);
  };
  const timer = setInterval(poll, 40);
  cleanups.push(() => clearInterval(timer));
  return {
    history: () => (poll(), [...seen]),
    current: () => (poll(), seen[seen.length - 1] ?? null),
  };
}

async function notifySocket(): Promise<NotifySocket> {
  const sock = await openNotifySocket();
  cleanups.push(() => sock.close());
  return sock;
}

async function testDatabase(label: string): Promise<TestDatabase> {
  const db = await createTestDatabase(label);
  cleanups.push(() => db.drop());
  return db;
}

interface Work {
  dir: string;
  gitDir: string;
  userDir: string;
  stateDir: string;
  statusFile: string;
  metricsFile: string;
  config: string;
  /** Rewrites the configuration (same directories). */
  rewrite(spec: Partial<ConfigSpec>): void;
}

function workDir(base: Omit<ConfigSpec, 'csv2BackupDir' | 'stateDir'>): Work {
  const dir = tempDir('daemon-');
  const w = {
    dir,
    gitDir: join(dir, 'git'),
    userDir: join(dir, 'user'),
    stateDir: join(dir, 'state'),
    statusFile: join(dir, 'state', 'status.json'),
    metricsFile: join(dir, 'metrics', 'schema_backup.prom'),
  };
  const write = (spec: Partial<ConfigSpec>) =>
    writeConfig(dir, { csv2BackupDir: w.gitDir, stateDir: w.stateDir, ...base, ...spec } as ConfigSpec);
  return { ...w, config: write({}), rewrite: (spec) => void write(spec) };
}

/** Datagrams are `KEY=value` lines (systemd-notify adds MAINPID=, BARRIER=1 ...): the index of the first with a line matching re, or -1. */
const lineIndex = (messages: string[], re: RegExp) => messages.findIndex((m) => m.split('\n').some((l) => re.test(l)));

const snapshotsIn = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((n) => /^\d{14}$/.test(n)).sort() : []);
const callLines = (calls: FakeCall[]) => calls.map((c) => `${c.verb} ${c.unit}`);

describe('start-up', () => {
  test('an invalid configuration exits at once with the configuration code (3), and READY=1 is never sent', async () => {
    const db = await testDatabase('daemon_badconf');
    const sock = await notifySocket();
    const w = workDir({ credentialsFile: db.credentialsFile, global: [], extra: "schedule: 'every night at three'" });
    const started = Date.now();
    const exit = await startDaemon(w.config, daemonEnv({ NOTIFY_SOCKET: sock.path })).exited(15000);
    expect({ code: exit.code, stderr: exit.stderr }).toEqual({ code: EXIT.config, stderr: expect.stringMatching(/invalid configuration, not starting .*schedule/) });
    expect(Date.now() - started).toBeLessThan(10000);
    await sleep(300); // any datagram sent would have arrived
    expect(lineIndex(sock.messages(), /^READY=1$/)).toBe(-1);
    expect(existsSync(w.statusFile)).toBe(false);
  });

  test('a credentials file that cannot be read exits at once with 3 too', async () => {
    const sock = await notifySocket();
    const w = workDir({ credentialsFile: '/nonexistent/schema_backup/database.yml', extra: `schedule: '${EVERY_2S}'` });
    const exit = await startDaemon(w.config, daemonEnv({ NOTIFY_SOCKET: sock.path })).exited(15000);
    expect({ code: exit.code, stderr: exit.stderr }).toEqual({ code: EXIT.config, stderr: expect.stringMatching(/invalid configuration, not starting .*database\.yml/) });
    await sleep(300);
    expect(lineIndex(sock.messages(), /^READY=1$/)).toBe(-1);
    expect(existsSync(w.statusFile)).toBe(false);
  });

  test('consumers left stopped by an interrupted run are started before READY=1', async () => {
    const db = await testDatabase('daemon_recover');
    const sock = await notifySocket();
    const fake = createFakeServices({ writer: 'exec sleep 1000', idle: 'exec sleep 1000' });
    cleanups.push(() => fake.cleanup());
    const w = workDir({ credentialsFile: db.credentialsFile, consumers: ['writer', 'idle'], extra: `schedule: '${YEARLY}'` });
    const { stdout: deadPid } = await run('/bin/sh', ['-c', 'echo $$']);
    await run('/bin/mkdir', ['-p', w.stateDir]);
    const record = join(w.stateDir, 'stopped-consumers.json');
    writeFileSync(record, JSON.stringify({ pid: Number(deadPid.trim()), startedAt: '2020-01-01T00:00:00.000Z', consumers: ['writer'] }));
    expect(await fake.isRunning('writer')).toBe(false);

    const d = startDaemon(w.config, daemonEnv({ ...fake.env, NOTIFY_SOCKET: sock.path }));
    await sock.waitFor((m) => m.includes('READY=1'), 20000);
    const readyAt = sock.timedMessages().find((m) => m.message.includes('READY=1'))?.at as number;
    expect(await fake.isRunning('writer')).toBe(true);
    expect(await fake.isRunning('idle')).toBe(false);
    const calls = await fake.calls();
    expect(callLines(calls)).toEqual(['start writer']);
    expect(calls[0]?.t).toBeLessThanOrEqual(readyAt);
    expect(existsSync(record)).toBe(false);
    expect(d.stderr()).toMatch(/starting consumers left stopped by an interrupted run/);
    const exit = await d.stop();
    expect(exit.code).toBe(EXIT.ok);
  });
});

test('on schedule under systemd: backups, notify + watchdog, journal lines, retention, status and metrics files, `status`', async () => {
  const db = await testDatabase('daemon_main');
  await db.conn.query('CREATE TABLE ticks (id INT AUTO_INCREMENT PRIMARY KEY, at DATETIME(6)); CREATE TABLE notes (id INT AUTO_INCREMENT PRIMARY KEY, at DATETIME(6));');
  const sock = await notifySocket();
  const w = workDir({
    credentialsFile: db.credentialsFile,
    userDataBackupDir: undefined,
    global: ['ticks'],
    local: ['notes'],
  });
  w.rewrite({
    userDataBackupDir: w.userDir,
    extra: [`schedule: '${EVERY_2S}'`, `metrics_file: ${JSON.stringify(w.metricsFile)}`, 'user_data_retention: { keep: 2 }'].join('\n'),
  });
  const status = watchStatus(w.statusFile);
  // Every run sees new rows: each makes a commit and a new user-data snapshot (identical ones would be dropped by design).
  const writer = setInterval(() => void db.conn.query('INSERT INTO ticks (at) VALUES (NOW(6)); INSERT INTO notes (at) VALUES (NOW(6))').catch(() => undefined), 250);
  cleanups.push(() => clearInterval(writer));

  const d = startDaemon(w.config, daemonEnv({ NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '2000000', JOURNAL_STREAM: '8:12345' }));
  await sock.waitFor((m) => m.includes('READY=1'), 20000);
  const RUNS = 5;
  await d.waitLog(/backup run finished/, RUNS, 40000);
  // Between two ticks (a run takes well under the 2 s): stop now, no run is cut short.
  clearInterval(writer);
  const exit = await d.stop();
  expect({ code: exit.code, signal: exit.signal }).toEqual({ code: EXIT.ok, signal: null });

  // Two backups and more: one commit per run, each run a success in the status file.
  const runs = status.history();
  expect(runs.length).toBeGreaterThanOrEqual(RUNS);
  expect(runs.every((r) => r.result === 'success' && r.exitCode === 0)).toBe(true);
  const commits = await gitLog(w.gitDir);
  expect(commits.length).toBeGreaterThanOrEqual(RUNS);
  expect(commits[0]?.hash).toBe(runs[runs.length - 1]?.commit);
  expect(new Set(runs.map((r) => r.commit)).size).toBe(runs.length);
  expect(readFileSync(join(w.gitDir, HOST, 'ticks'), 'utf8')).toMatch(/-- Rows\nINSERT INTO `ticks`/);

  // Retention keep 2: of the >= 5 snapshots made, the newest 2 remain, `latest` on the newest.
  const made = new Set(runs.map((r) => r.userSnapshot));
  expect(made.size).toBe(runs.length);
  const left = snapshotsIn(w.userDir);
  expect(left).toHaveLength(2);
  expect(readlinkSync(join(w.userDir, 'latest'))).toBe(left[1]);
  expect(runs[runs.length - 1]?.userSnapshot).toMatch(new RegExp(`${left[1]}$`));
  expect(runs[runs.length - 2]?.userSnapshot).toMatch(new RegExp(`${left[0]}$`));
  expect(readdirSync(w.userDir).sort()).toEqual([...left, 'latest']);
  expect(d.count(/user-data snapshot removed by retention/)).toBe(runs.length - 2);
  expect(readFileSync(join(w.userDir, left[1] as string, 'notes'), 'utf8')).toMatch(/INSERT INTO `notes`/);

  // sd_notify: READY=1 first, STATUS= as it goes, WATCHDOG=1 every second (WATCHDOG_USEC/2), STOPPING=1 at the end.
  const msgs = sock.messages();
  const timed = sock.timedMessages();
  const ready = lineIndex(msgs, /^READY=1$/);
  expect(ready).toBeGreaterThanOrEqual(0);
  // The notifier sends one status at a time and the newest pending one wins: under load the first idle status
  // can be superseded by "running" before it goes out. When it does go out, it is not before READY.
  const firstIdle = lineIndex(msgs, /^STATUS=idle; next run \d{4}-.*; no run yet$/);
  expect(firstIdle === -1 || firstIdle >= ready).toBe(true);
  // Likewise "running" may be the status READY=1 carries, when the first run starts while READY still waits for
  // an earlier send (seen once in CI: READY=1 and STATUS=running in one datagram); it never comes before it.
  const running = lineIndex(msgs, /^STATUS=running backup \(since \d{4}-/);
  expect(running).toBeGreaterThanOrEqual(ready);
  expect(lineIndex(msgs, /^STATUS=idle; next run \d{4}-.*; last run succeeded at \d{4}-/)).toBeGreaterThan(running);
  expect(msgs.filter((m) => /^STOPPING=1$/m.test(m))).toHaveLength(1);
  const pings = timed.filter((m) => /^WATCHDOG=1$/m.test(m.message)).map((m) => m.at);
  expect(pings.length).toBeGreaterThanOrEqual(5);
  const gaps = pings.slice(1).map((t, i) => t - (pings[i] as number));
  // systemd would kill the unit after 2 s without a ping.
  expect(Math.max(...gaps)).toBeLessThan(2000);

  // Under systemd (JOURNAL_STREAM): every line has a priority prefix, no timestamp.
  const lines = exit.stderr.split('\n').filter(Boolean);
  expect(lines.length).toBeGreaterThan(RUNS);
  for (const line of lines) expect(line).toMatch(/^<[3467]>\S/);
  expect(lines.filter((l) => /^<\d>\d{4}-\d\d-\d\d/.test(l))).toEqual([]);
  expect(lines).toEqual(expect.arrayContaining([expect.stringMatching(/^<6>daemon started schedule=/), expect.stringMatching(/^<6>backup run finished /), '<6>stopped']));

  // The status file says what happened last.
  const last = JSON.parse(readFileSync(w.statusFile, 'utf8')) as StatusRecord;
  expect(last).toMatchObject({ version: 1, result: 'success', exitCode: 0, error: null, lastSuccessAt: last.finishedAt });
  expect(last.perClass?.global).toMatchObject({ tables: 1 });
  expect(last.perClass?.local).toMatchObject({ tables: 1 });
  expect(last.perClass?.global.rows).toBeGreaterThan(0);
  expect(Date.parse(last.nextRun as string)).toBeGreaterThan(Date.parse(last.finishedAt));

  // The metrics file too.
  const metrics = readFileSync(w.metricsFile, 'utf8');
  expect(metrics).toMatch(/^schema_backup_last_run_success 1$/m);
  expect(metrics).toContain(`schema_backup_last_success_timestamp_seconds ${Date.parse(last.finishedAt) / 1000}\n`);
  expect(metrics).toMatch(/^schema_backup_tables\{class="global"\} 1$/m);
  expect(metrics).toMatch(/^schema_backup_tables\{class="local"\} 1$/m);
  expect(metrics).toContain(`schema_backup_rows_total{class="local"} ${last.perClass?.local.rows}\n`);

  // `schema_backup status` reads them back.
  const ok = await runCli(['status', '--config', w.config], { env: daemonEnv() });
  expect({ code: ok.code, stdout: ok.stdout }).toEqual({ code: 0, stdout: expect.stringMatching(/^schema_backup: OK\n/) });
  expect(ok.stdout).toContain(`last run:      success (exit code 0), ${last.startedAt} .. ${last.finishedAt}`);
  expect(ok.stdout).toContain(`commit:        ${last.commit}`);
  const json = await runCli(['status', '--json', '--config', w.config], { env: daemonEnv() });
  expect(json.code).toBe(0);
  expect(JSON.parse(json.stdout)).toMatchObject({ healthy: true, problems: [], status: { result: 'success', finishedAt: last.finishedAt } });
  // A threshold the last success is older than (0.0001 h = 0.36 s).
  await sleep(500);
  const stale = await runCli(['status', '--max-age', '0.0001', '--config', w.config], { env: daemonEnv() });
  expect({ code: stale.code, stdout: stale.stdout }).toEqual({ code: 1, stdout: expect.stringMatching(/^schema_backup: PROBLEM\n  problem: last success is \d+ min old \(more than 0\.0001 h\)/) });
}, 90000);

test('SIGHUP: a valid new configuration takes effect; an invalid one is logged and the previous one kept', async () => {
  const db = await testDatabase('daemon_hup');
  await db.conn.query("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1)");
  const w = workDir({ credentialsFile: db.credentialsFile, global: ['t'], extra: `schedule: '${YEARLY}'` });
  const status = watchStatus(w.statusFile);
  const d = startDaemon(w.config, daemonEnv());
  await d.waitLog(/daemon started schedule="0 0 1 1 \*"/);
  await sleep(2500);
  expect(d.count(/backup run started/)).toBe(0);

  // Valid: every 2 s, and a metrics file that was not configured before.
  w.rewrite({ extra: [`schedule: '${EVERY_2S}'`, `metrics_file: ${JSON.stringify(w.metricsFile)}`].join('\n') });
  d.child.kill('SIGHUP');
  await d.waitLog(/configuration reloaded schedule="\*\/2 \* \* \* \* \*"/);
  await d.waitLog(/backup run finished/, 1, 15000);
  await until('the status file', () => status.current() !== null);
  await until('the metrics file of the new configuration', () => existsSync(w.metricsFile), 5000);

  // Invalid: a schedule node-cron refuses.
  writeFileSync(w.config, readFileSync(w.config, 'utf8').replace(/^schedule: .*$/m, "schedule: 'nope'"));
  const finishedBefore = d.count(/backup run finished/);
  d.child.kill('SIGHUP');
  await d.waitLog(/configuration reload failed, keeping the previous configuration problem=.*schedule/);
  // Still alive, still on the previous schedule.
  await d.waitLog(/backup run finished/, finishedBefore + 1, 15000);
  expect(d.count(/configuration reloaded/)).toBe(1);
  expect(status.current()?.result).toBe('success');

  // Invalid too: a valid file naming a credentials file that does not exist.
  w.rewrite({ credentialsFile: join(w.dir, 'missing.yml'), extra: `schedule: '${EVERY_2S}'` });
  d.child.kill('SIGHUP');
  await d.waitLog(/configuration reload failed, keeping the previous configuration problem=.*missing\.yml/);
  const finishedAfter = d.count(/backup run finished/);
  await d.waitLog(/backup run finished/, finishedAfter + 1, 15000);
  expect(d.count(/configuration reloaded/)).toBe(1);
  expect(status.current()?.result).toBe('success');

  const exit = await d.stop();
  expect(exit.code).toBe(EXIT.ok);
}, 60000);

test('a run against a stopped database fails, is recorded, and the next run succeeds once the database is back', async () => {
  const srv: PrivateServer = await startPrivateServer();
  cleanups.push(() => srv.stop());
  const admin = await createConnection({ host: srv.host, port: srv.port, user: 'root', password: '', multipleStatements: true });
  await admin.query('CREATE DATABASE down_test; CREATE TABLE down_test.t (id INT PRIMARY KEY); INSERT INTO down_test.t VALUES (1), (2)');
  await admin.end();
  const work = tempDir('daemon-cred-');
  const credentialsFile = join(work, 'database.yml');
  writeFileSync(credentialsFile, credentialsYaml({ host: srv.host, port: srv.port, user: 'root', password: '' }, 'down_test'), { mode: 0o600 });
  const w = workDir({ credentialsFile, global: ['t'] });
  w.rewrite({ extra: [`schedule: '${EVERY_2S}'`, `metrics_file: ${JSON.stringify(w.metricsFile)}`].join('\n') });
  const status = watchStatus(w.statusFile);
  const d = startDaemon(w.config, daemonEnv());

  await until('a first success', () => status.current()?.result === 'success', 20000);
  await srv.kill();
  await until('a failed run', () => status.current()?.result === 'failure', 20000);
  const failed = status.current() as StatusRecord;
  const before = status.history().slice(0, -1);
  const lastSuccess = [...before].reverse().find((r) => r.result === 'success') as StatusRecord;
  expect(failed).toMatchObject({ result: 'failure', exitCode: EXIT.database, lastSuccessAt: lastSuccess.finishedAt, commit: null, perClass: null });
  expect(failed.error).toEqual(expect.any(String));
  expect(d.stderr()).toMatch(/backup run failed .*exitCode=4/);

  // While it fails: `status` says so, the metrics keep the last success.
  const bad = await runCli(['status', '--config', w.config], { env: daemonEnv() });
  expect({ code: bad.code, stdout: bad.stdout }).toEqual({ code: 1, stdout: expect.stringMatching(/^schema_backup: PROBLEM\n  problem: last run failed \(exit code 4\)/) });
  expect(bad.stdout).toContain(`last success:  ${lastSuccess.finishedAt}`);
  const badJson = JSON.parse((await runCli(['status', '--json', '--config', w.config], { env: daemonEnv() })).stdout) as { healthy: boolean; status: StatusRecord };
  expect(badJson).toMatchObject({ healthy: false, status: { result: 'failure', exitCode: 4 } });
  const metrics = readFileSync(w.metricsFile, 'utf8');
  expect(metrics).toMatch(/^schema_backup_last_run_success 0$/m);
  expect(metrics).toContain(`schema_backup_last_success_timestamp_seconds ${Date.parse(lastSuccess.finishedAt) / 1000}\n`);
  expect(metrics).not.toMatch(/schema_backup_rows_total/);

  await srv.restart();
  await until('a success after the failure', () => status.current()?.result === 'success' && Date.parse(status.current()?.finishedAt as string) > Date.parse(failed.finishedAt), 20000);
  const back = status.current() as StatusRecord;
  expect(back).toMatchObject({ result: 'success', exitCode: 0, lastSuccessAt: back.finishedAt });
  expect(d.child.exitCode).toBeNull();
  const good = await runCli(['status', '--config', w.config], { env: daemonEnv() });
  expect(good.code).toBe(0);
  expect(readFileSync(w.metricsFile, 'utf8')).toMatch(/^schema_backup_last_run_success 1$/m);

  const history = status.history();
  const firstFailure = history.findIndex((r) => r.result === 'failure');
  expect(history.slice(firstFailure).map((r) => r.result)).toEqual(expect.arrayContaining(['failure', 'success']));
  expect((await d.stop()).code).toBe(EXIT.ok);
}, 90000);

test('an overlapping tick is skipped; SIGTERM during a run ends cleanly with the consumer running again', async () => {
  const db = await testDatabase('daemon_term');
  const BIG_ROWS = 200_000;
  // Read under a read lock while the consumer is stopped: the window SIGTERM aims at.
  await db.conn.query(
    'CREATE TABLE consumer_writes (id bigint auto_increment primary key, written_at datetime(6), pid int);' +
      `CREATE TABLE bigm (id INT PRIMARY KEY, pad VARCHAR(100)) ENGINE=MyISAM; INSERT INTO bigm SELECT seq, REPEAT('y', 100) FROM seq_1_to_${BIG_ROWS};`,
  );
  const writer = `SB_CONSUMER_HOST=127.0.0.1 SB_CONSUMER_PORT=3306 SB_CONSUMER_USER=root SB_CONSUMER_DATABASE=${db.name} exec ${process.execPath} ${CONSUMER}`;
  const fake: FakeServices = createFakeServices({ writer });
  cleanups.push(() => fake.cleanup());
  await fake.start('writer');
  fake.clearCalls();
  const sock = await notifySocket();
  const w = workDir({ credentialsFile: db.credentialsFile, global: ['bigm'], consumers: ['writer'] });
  // A run takes > 3 s (pause_interval), longer than the 2 s between ticks.
  w.rewrite({ extra: `schedule: '${EVERY_2S}'` });
  writeFileSync(w.config, readFileSync(w.config, 'utf8').replace(/^pause_interval: .*$/m, 'pause_interval: 3'));
  const status = watchStatus(w.statusFile);
  const d = startDaemon(w.config, daemonEnv({ ...fake.env, NOTIFY_SOCKET: sock.path }));

  await d.waitLog(/backup run finished/, 1, 30000);
  expect(d.count(/previous run still in progress, tick skipped/)).toBeGreaterThanOrEqual(1);
  expect(d.count(/backup run started/)).toBe(1);
  await until('the consumer runs again', () => fake.isRunning('writer'), 10000);
  expect(callLines(await fake.calls()).filter((l) => !l.startsWith('is-active'))).toEqual(['stop writer', 'start writer']);
  const commitsAfterFirst = (await gitLog(w.gitDir)).length;

  // The next run: wait until it reads bigm with the consumer stopped, then SIGTERM.
  await until('the second run stops the consumer', async () => callLines(await fake.calls()).filter((l) => l === 'stop writer').length === 2, 15000, 20);
  await until(
    'a query reading bigm',
    async () => {
      const [rows] = await db.conn.query<RowDataPacket[]>(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND COMMAND IN ('Query', 'Execute') AND ID <> CONNECTION_ID() AND INFO LIKE '%FROM `bigm`%'",
        [db.name],
      );
      return rows.length > 0;
    },
    15000,
    5,
  );
  expect(await fake.isRunning('writer')).toBe(false);
  const termAt = Date.now();
  const exit = await d.stop(30000);
  expect({ code: exit.code, signal: exit.signal }).toEqual({ code: EXIT.ok, signal: null });
  expect(Date.now() - termAt).toBeLessThan(15000);

  // Consumers started again, nothing left behind.
  expect(await fake.isRunning('writer')).toBe(true);
  const calls = callLines(await fake.calls()).filter((l) => !l.startsWith('is-active'));
  expect(calls).toEqual(['stop writer', 'start writer', 'stop writer', 'start writer']);
  expect(existsSync(join(w.stateDir, 'stopped-consumers.json'))).toBe(false);
  expect(existsSync(join(w.stateDir, 'schema_backup.lock'))).toBe(false);
  expect((await gitLog(w.gitDir)).length).toBe(commitsAfterFirst);
  expect(existsSync(join(w.gitDir, HOST, '.schema_backup', 'tmp')) ? readdirSync(join(w.gitDir, HOST, '.schema_backup', 'tmp')) : []).toEqual([]);

  // Recorded as interrupted; the notifications say it stopped on purpose.
  const last = status.current() as StatusRecord;
  expect(last).toMatchObject({ result: 'failure', exitCode: EXIT.interrupted });
  expect(last.lastSuccessAt).toBe(status.history().find((r) => r.result === 'success')?.finishedAt);
  expect(exit.stderr).toMatch(/stopping signal=SIGTERM runInProgress=true/);
  expect(exit.stderr).toMatch(/backup run failed .*aborted=true/);
  const msgs = sock.messages();
  expect(lineIndex(msgs, /^STOPPING=1$/)).toBeGreaterThan(lineIndex(msgs, /^STATUS=running backup/));
  expect(lineIndex(msgs, /^STATUS=stopping: bringing the backup run to a safe end$/)).toBeGreaterThanOrEqual(0);
}, 90000);
