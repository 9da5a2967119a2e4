/** The run lock: real files, real processes (live, dead, racing). */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BusyError } from '../../src/errors';
import { acquireRunLock, LOCK_FILE } from '../../src/services/lock';
import { runAllowingFailure } from '../../src/proc/run';
import { captureLog, deadPid } from '../helpers/capture-log';



let root: string;
let stateDir: string;
let lockPath: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'sb-lock-'));
  stateDir = join(root, 'state', 'nested');
  lockPath = join(stateDir, LOCK_FILE);
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

test('creates the state directory 0700 and a lock naming this process; a second acquire is busy', async () => {
  const { log } = captureLog();
  const lock = await acquireRunLock(stateDir, log);
  expect(statSync(stateDir).mode & 0o777).toBe(0o700);
  expect(lock.path).toBe(lockPath);
  const content = JSON.parse(readFileSync(lockPath, 'utf8'));
  expect(content.pid).toBe(process.pid);
  expect(new Date(content.startedAt).getTime()).toBeGreaterThan(Date.now() - 60000);

  const err = await acquireRunLock(stateDir, log).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(BusyError);
  expect((err as Error).message).toBe(
    `another schema_backup run (PID ${process.pid}, started at ${content.startedAt}) is active; lock ${lockPath}`,
  );

  await lock.release();
  await lock.release(); // idempotent
  expect(existsSync(lockPath)).toBe(false);
  const again = await acquireRunLock(stateDir, log);
  await again.release();
  // No temporary or stale files are left behind.
  expect(readdirSync(stateDir)).toEqual([]);
});

test('a lock left by a dead process is taken over with a warning', async () => {
  const pid = await deadPid();
  await acquireRunLock(stateDir, captureLog().log).then((l) => l.release()); // creates the directory
  writeFileSync(lockPath, JSON.stringify({ pid, startedAt: '2020-01-01T00:00:00.000Z' }));
  const { log, text } = captureLog();
  const lock = await acquireRunLock(stateDir, log);
  expect(JSON.parse(readFileSync(lockPath, 'utf8')).pid).toBe(process.pid);
  expect(text()).toMatch(new RegExp(`warn .*taking over stale lock .*pid=${pid} startedAt=2020-01-01T00:00:00.000Z`));
  await lock.release();
});

test('temporary files of attempts killed while taking the lock are removed, those of live processes stay', async () => {
  await acquireRunLock(stateDir, captureLog().log).then((l) => l.release()); // creates the directory
  // Killed before its text was written, and after: both dead.
  const cut = `${LOCK_FILE}.${await deadPid()}.0123abcd.tmp`;
  writeFileSync(join(stateDir, cut), '');
  const deadOwner = await deadPid();
  const whole = `${LOCK_FILE}.${deadOwner}.4567ef01.tmp`;
  writeFileSync(join(stateDir, whole), JSON.stringify({ pid: deadOwner, startedAt: '2020-01-01T00:00:00.000Z', nonce: '4567ef01' }));
  // A live process's attempt, being written.
  const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    const alive = `${LOCK_FILE}.${sleeper.pid}.89abcdef.tmp`;
    writeFileSync(join(stateDir, alive), '');
    const lock = await acquireRunLock(stateDir, captureLog().log);
    expect(readdirSync(stateDir).sort()).toEqual([LOCK_FILE, alive].sort());
    await lock.release();
  } finally {
    sleeper.kill();
  }
});

test('a garbage lock file is taken over with a warning', async () => {
  await acquireRunLock(stateDir, captureLog().log).then((l) => l.release());
  writeFileSync(lockPath, 'not json at all');
  const { log, text } = captureLog();
  const lock = await acquireRunLock(stateDir, log);
  expect(text()).toMatch(/taking over stale lock .*content=unreadable/);
  await lock.release();
});

test('a live PID holds the lock, unless its start time shows the PID was reused', async () => {
  await acquireRunLock(stateDir, captureLog().log).then((l) => l.release());
  // Our parent is alive; without a start time it must be taken at its word.
  writeFileSync(lockPath, JSON.stringify({ pid: process.ppid, startedAt: '2020-01-01T00:00:00.000Z' }));
  await expect(acquireRunLock(stateDir, captureLog().log)).rejects.toThrow(
    new RegExp(`another schema_backup run \\(PID ${process.ppid}, started at 2020-01-01T00:00:00.000Z\\) is active`),
  );
  // Same PID but a different kernel start time: another process now carries it.
  writeFileSync(lockPath, JSON.stringify({ pid: process.ppid, startedAt: '2020-01-01T00:00:00.000Z', procStart: '1' }));
  const { log, text } = captureLog();
  const lock = await acquireRunLock(stateDir, log);
  expect(text()).toMatch(/taking over stale lock/);
  await lock.release();
});

test('a breaker left by a process that crashed mid-takeover does not block, and is cleaned up', async () => {
  await acquireRunLock(stateDir, captureLog().log).then((l) => l.release());
  const stale = JSON.stringify({ pid: await deadPid(), startedAt: '2020-01-01T00:00:00.000Z' });
  writeFileSync(lockPath, stale);
  const hash = createHash('sha256').update(stale).digest('hex').slice(0, 16);
  writeFileSync(`${lockPath}.break.${hash}.0`, JSON.stringify({ pid: await deadPid(), startedAt: '2020-01-01T00:00:01.000Z' }));
  const lock = await acquireRunLock(stateDir, captureLog().log);
  expect(JSON.parse(readFileSync(lockPath, 'utf8')).pid).toBe(process.pid);
  expect(readdirSync(stateDir)).toEqual([LOCK_FILE]);
  await lock.release();
});

test('a live breaker holder is waited for, not overtaken', async () => {
  await acquireRunLock(stateDir, captureLog().log).then((l) => l.release());
  const stale = JSON.stringify({ pid: await deadPid(), startedAt: '2020-01-01T00:00:00.000Z' });
  writeFileSync(lockPath, stale);
  const hash = createHash('sha256').update(stale).digest('hex').slice(0, 16);
  // Our parent process is alive: it "is taking the lock over" and never finishes.
  writeFileSync(`${lockPath}.break.${hash}.0`, JSON.stringify({ pid: process.ppid, startedAt: '2020-01-01T00:00:01.000Z' }));
  await expect(acquireRunLock(stateDir, captureLog().log)).rejects.toThrow(/contention did not settle/);
  expect(readFileSync(lockPath, 'utf8')).toBe(stale);
});

test('release leaves alone a lock that is no longer ours', async () => {
  const { log, text } = captureLog();
  const lock = await acquireRunLock(stateDir, log);
  writeFileSync(lockPath, JSON.stringify({ pid: process.ppid, startedAt: 'x' }));
  await lock.release();
  expect(existsSync(lockPath)).toBe(true);
  expect(text()).toMatch(/run lock no longer ours at release; left alone/);
});

/** Loads the TypeScript sources in a plain node child (no build step needed). */
const TS_REQUIRE = `
const fs = require('node:fs');
const ts = require('typescript');
require.extensions['.ts'] = (m, file) => m._compile(ts.transpileModule(fs.readFileSync(file, 'utf8'), {
  fileName: file,
  compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
}).outputText, file);
const { acquireRunLock } = require(process.env.RACE_LOCK_TS);
const { silentLogger } = require(process.env.RACE_LOG_TS);
const { RACE_DIR: dir, RACE_ID: id } = process.env;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
fs.writeFileSync(dir + '/ready-' + id, '');
async function go() {
  let goAt;
  while (goAt === undefined) {
    try { goAt = Number(fs.readFileSync(dir + '/go', 'utf8')); } catch { await sleep(5); }
  }
  while (Date.now() < goAt) { /* spin: start together */ }
}
`;

/** One race: acquire once, hold the lock 1.5 s if won. */
const RACER = `${TS_REQUIRE}
go().then(async () => {
  try {
    const lock = await acquireRunLock(dir + '/state', silentLogger());
    process.stdout.write('won ' + process.pid + '\\n');
    await sleep(1500);
    await lock.release();
  } catch (err) {
    process.stdout.write('lost ' + err.name + ': ' + err.message + '\\n');
  }
});
`;

/**
 * Many races: each win enters a critical section (an O_EXCL marker file; finding
 * it taken means two holders at once), then "crashes", leaving a stale lock
 * for the next race.
 */
const STRESS_RACER = `${TS_REQUIRE}
go().then(async () => {
  const state = dir + '/state';
  const stale = JSON.stringify({ pid: Number(process.env.RACE_DEAD_PID), startedAt: '2020-01-01T00:00:00.000Z' });
  const end = Date.now() + Number(process.env.RACE_MS);
  const counts = { wins: 0, busy: 0, overlaps: 0 };
  while (Date.now() < end) {
    try {
      await acquireRunLock(state, silentLogger());
      counts.wins++;
      let fd;
      try { fd = fs.openSync(dir + '/critical', 'wx'); } catch { counts.overlaps++; }
      await sleep(3);
      if (fd !== undefined) { fs.closeSync(fd); fs.unlinkSync(dir + '/critical'); }
      fs.writeFileSync(dir + '/crash-' + id, stale);
      fs.renameSync(dir + '/crash-' + id, state + '/schema_backup.lock');
    } catch (err) {
      if (err.name !== 'BusyError') throw err;
      counts.busy++;
    }
    await new Promise((r) => setImmediate(r));
  }
  process.stdout.write(JSON.stringify(counts) + '\\n');
});
`;

async function race(script: string, racers: number, dir: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<string[]> {
  const children = Array.from({ length: racers }, (_, i) =>
    runAllowingFailure(process.execPath, ['-e', script], {
      cwd: resolve(__dirname, '../..'),
      timeoutMs: 40000,
      env: {
        ...process.env,
        ...extraEnv,
        RACE_DIR: dir,
        RACE_ID: String(i),
        RACE_LOCK_TS: resolve(__dirname, '../../src/services/lock.ts'),
        RACE_LOG_TS: resolve(__dirname, '../../src/log.ts'),
      },
    }),
  );
  const deadline = Date.now() + 25000;
  while (readdirSync(dir).filter((f) => f.startsWith('ready-')).length < racers && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  writeFileSync(join(dir, 'go'), String(Date.now() + 300));
  const results = await Promise.all(children);
  return results.map((r) => `${r.stdout.trim()}${r.stderr.trim() ? ` [stderr: ${r.stderr.trim()}]` : ''}`);
}

test('racers on one stale lock: exactly one wins, the others are busy', async () => {
  for (let round = 0; round < 1; round++) {
    const dir = mkdtempSync(join(root, `race-${round}-`));
    const state = join(dir, 'state');
    await acquireRunLock(state, captureLog().log).then((l) => l.release());
    writeFileSync(join(state, LOCK_FILE), JSON.stringify({ pid: await deadPid(), startedAt: '2020-01-01T00:00:00.000Z' }));
    const outputs = await race(RACER, 3, dir);
    const winners = outputs.filter((o) => o.startsWith('won '));
    expect({ round, outputs, winners: winners.length }).toEqual({ round, outputs, winners: 1 });
    const winnerPid = (winners[0] as string).split(' ')[1];
    for (const o of outputs.filter((x) => !x.startsWith('won '))) {
      expect(o).toMatch(new RegExp(`^lost BusyError: another schema_backup run \\(PID ${winnerPid}, `));
    }
    expect(existsSync(join(state, LOCK_FILE))).toBe(false); // the winner released it
    expect(readdirSync(state)).toEqual([]);
  }
});

test('stress: many takeovers of stale locks by racing processes never give two holders at once', async () => {
  const dir = mkdtempSync(join(root, 'stress-'));
  const state = join(dir, 'state');
  const dead = await deadPid();
  await acquireRunLock(state, captureLog().log).then((l) => l.release());
  writeFileSync(join(state, LOCK_FILE), JSON.stringify({ pid: dead, startedAt: '2020-01-01T00:00:00.000Z' }));
  const outputs = await race(STRESS_RACER, 3, dir, { RACE_DEAD_PID: String(dead), RACE_MS: '3000' });
  const counts = outputs.map((o) => JSON.parse(o) as { wins: number; busy: number; overlaps: number });
  const total = counts.reduce((a, c) => ({ wins: a.wins + c.wins, busy: a.busy + c.busy, overlaps: a.overlaps + c.overlaps }));
  expect(total.overlaps).toBe(0);
  expect(total.wins).toBeGreaterThan(20); // the races did happen
  expect(total.busy).toBeGreaterThan(20);
});
