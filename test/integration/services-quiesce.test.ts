/**
 * The quiescer against fake-systemctl: real processes as units, real
 * is-active state, calls recorded in order.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceError, DatabaseError } from '../../src/errors';
import type { Logger } from '../../src/log';
import { createQuiescer, type QuiescerOptions } from '../../src/services/quiesce';
import { createSystemctl } from '../../src/services/systemctl';
import { recoverInterruptedRun, recoveryPath } from '../../src/services/recovery';
import { createFakeServices, type FakeServices } from '../helpers/fake-services';
import { captureLog } from '../helpers/capture-log';


const SLEEPER = 'exec sleep 1000';

let fake: FakeServices;
let stateDir: string;

beforeEach(async () => {
  fake = createFakeServices({ c1: SLEEPER, c2: SLEEPER, c3: SLEEPER, p1: SLEEPER });
  stateDir = mkdtempSync(join(tmpdir(), 'sb-quiesce-state-'));
});

afterEach(async () => {
  await fake.cleanup();
  rmSync(stateDir, { recursive: true, force: true });
});

function quiescer(over: Partial<QuiescerOptions> & Pick<QuiescerOptions, 'mode'>, log: Logger) {
  const waits: number[] = [];
  let dbWaits = 0;
  const q = createQuiescer({
    consumers: ['c1', 'c2', 'c3'],
    providers: ['p1'],
    pauseIntervalSec: 0,
    systemctl: createSystemctl({ timeoutSec: 20, env: fake.env }),
    stateDir,
    log,
    waitForDatabase: async () => {
      dbWaits++;
    },
    sleep: async (ms) => {
      waits.push(ms);
      await new Promise((r) => setTimeout(r, ms));
    },
    ...over,
  });
  return { q, waits, dbWaits: () => dbWaits };
}

const sequence = async (): Promise<string[]> => (await fake.calls()).map((c) => `${c.verb} ${c.unit}`);

async function running(): Promise<Record<string, boolean>> {
  const out: Record<string, boolean> = {};
  for (const u of ['c1', 'c2', 'c3', 'p1']) out[u] = await fake.isRunning(u);
  return out;
}

describe('default mode', () => {
  test('stops running consumers in order, leaves a stopped one stopped, starts them again in reverse', async () => {
    await fake.start('c1');
    await fake.start('c3');
    await fake.start('p1');
    fake.clearCalls();
    const { log, text } = captureLog();
    const { q, waits } = quiescer({ mode: 'default', pauseIntervalSec: 1 }, log);

    await q.quiesce();
    expect(await sequence()).toEqual(['is-active c1', 'is-active c2', 'is-active c3', 'stop c1', 'stop c3']);
    expect(await running()).toEqual({ c1: false, c2: false, c3: false, p1: true });
    expect(waits).toEqual([1000]);
    const record = JSON.parse(readFileSync(recoveryPath(stateDir), 'utf8'));
    expect(record.consumers).toEqual(['c1', 'c3']);
    expect(record.pid).toBe(process.pid);
    expect(q.report().downtimeMs).toBeNull(); // not over yet

    await q.resume();
    await q.resume(); // idempotent: the second call does nothing
    expect((await sequence()).slice(5)).toEqual(['start c3', 'start c1']);
    expect(await running()).toEqual({ c1: true, c2: false, c3: true, p1: true });
    expect(existsSync(recoveryPath(stateDir))).toBe(false);

    const report = q.report();
    expect(report).toMatchObject({
      mode: 'default',
      stopped: ['c1', 'c3'],
      alreadyStopped: ['c2'],
      restarted: ['c3', 'c1'],
      restartFailures: [],
      providersRestarted: [],
    });
    // First stop to last start includes the 1 s pause.
    expect(report.downtimeMs).toBeGreaterThanOrEqual(1000);
    expect(report.downtimeMs).toBeLessThan(15000);
    expect(text()).toMatch(/consumer already stopped; left stopped service=c2/);
  });

  test('report before resume has no downtime yet; nothing stopped means no pause and null downtime', async () => {
    const { log } = captureLog();
    const { q, waits } = quiescer({ mode: 'default', pauseIntervalSec: 5 }, log);
    await q.quiesce();
    await q.resume();
    expect(await sequence()).toEqual(['is-active c1', 'is-active c2', 'is-active c3']);
    expect(waits).toEqual([]);
    expect(q.report()).toMatchObject({ stopped: [], alreadyStopped: ['c1', 'c2', 'c3'], downtimeMs: null });
    expect(existsSync(recoveryPath(stateDir))).toBe(false);
  });
});

describe('model mode', () => {
  test('restarts providers after stopping consumers, then waits for the database', async () => {
    await fake.startAll();
    const providerPid = fake.pidOf('p1');
    fake.clearCalls();
    const { log } = captureLog();
    let callsAtDbWait: string[] = [];
    const { q } = quiescer(
      {
        mode: 'model',
        waitForDatabase: async () => {
          callsAtDbWait = await sequence();
        },
      },
      log,
    );
    await q.quiesce();
    const expected = ['is-active c1', 'is-active c2', 'is-active c3', 'stop c1', 'stop c2', 'stop c3', 'restart p1'];
    expect(callsAtDbWait).toEqual(expected);
    expect(await fake.isRunning('p1')).toBe(true);
    expect(fake.pidOf('p1')).not.toBe(providerPid); // really restarted
    await q.resume();
    expect(await sequence()).toEqual([...expected, 'start c3', 'start c2', 'start c1']);
    expect(await running()).toEqual({ c1: true, c2: true, c3: true, p1: true });
    expect(q.report()).toMatchObject({ mode: 'model', providersRestarted: ['p1'], restarted: ['c3', 'c2', 'c1'] });
    expect(q.report().downtimeMs).toBeGreaterThan(0);
  });

  test('database not coming back: consumers started again, the error propagates', async () => {
    await fake.startAll();
    const { log } = captureLog();
    const { q } = quiescer(
      {
        mode: 'model',
        waitForDatabase: async () => {
          throw new DatabaseError('database did not answer');
        },
      },
      log,
    );
    await expect(q.quiesce()).rejects.toBeInstanceOf(DatabaseError);
    expect(await running()).toEqual({ c1: true, c2: true, c3: true, p1: true });
    expect(existsSync(recoveryPath(stateDir))).toBe(false);
  });
});

describe('target mode', () => {
  test('like model, but resume leaves consumers stopped and clears the record', async () => {
    await fake.startAll();
    fake.clearCalls();
    const { log, text } = captureLog();
    const { q, dbWaits } = quiescer({ mode: 'target' }, log);
    await q.quiesce();
    expect(dbWaits()).toBe(1);
    await q.resume();
    expect(await sequence()).toEqual([
      'is-active c1',
      'is-active c2',
      'is-active c3',
      'stop c1',
      'stop c2',
      'stop c3',
      'restart p1',
    ]);
    expect(await running()).toEqual({ c1: false, c2: false, c3: false, p1: true });
    expect(existsSync(recoveryPath(stateDir))).toBe(false);
    expect(q.report()).toMatchObject({ mode: 'target', stopped: ['c1', 'c2', 'c3'], restarted: [], downtimeMs: null });
    expect(text()).toMatch(/consumers left stopped for db_upgrade/);
    expect(text()).toMatch(/downtime not measured in target mode/);
  });

  test('a failed backup in target mode starts the consumers again', async () => {
    await fake.startAll();
    const { log } = captureLog();
    const { q } = quiescer({ mode: 'target' }, log);
    await q.quiesce();
    await q.resume({ backupFailed: true });
    expect(await running()).toEqual({ c1: true, c2: true, c3: true, p1: true });
    expect(q.report().restarted).toEqual(['c3', 'c2', 'c1']);
  });
});

describe('online mode', () => {
  test('touches no service', async () => {
    await fake.startAll();
    fake.clearCalls();
    const { log } = captureLog();
    const { q, dbWaits } = quiescer({ mode: 'online', pauseIntervalSec: 3 }, log);
    await q.quiesce();
    await q.resume();
    expect(await fake.calls()).toEqual([]);
    expect(dbWaits()).toBe(0);
    expect(await running()).toEqual({ c1: true, c2: true, c3: true, p1: true });
    expect(q.report()).toEqual({
      mode: 'online',
      stopped: [],
      alreadyStopped: [],
      restarted: [],
      restartFailures: [],
      providersRestarted: [],
      downtimeMs: null,
    });
  });
});

describe('failures', () => {
  test('a failed stop aborts: ServiceError, stopped ones started again, record cleared', async () => {
    await fake.startAll();
    fake.clearCalls();
    fake.failNext('stop', 'c2');
    const { log } = captureLog();
    const { q, dbWaits } = quiescer({ mode: 'model' }, log);
    const err = await q.quiesce().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ServiceError);
    expect((err as Error).message).toMatch(/c2/);
    expect((err as Error).message).toMatch(/stop/);
    expect((err as Error).message).toMatch(/Job for c2\.service failed \(injected\)/);
    const calls = await sequence();
    expect(calls).toEqual(['is-active c1', 'is-active c2', 'is-active c3', 'stop c1', 'stop c2', 'start c2', 'start c1']);
    expect(dbWaits()).toBe(0);
    expect(await running()).toEqual({ c1: true, c2: true, c3: true, p1: true });
    expect(existsSync(recoveryPath(stateDir))).toBe(false);
    await q.resume(); // the runner's finally: nothing more to do
    expect((await sequence()).length).toBe(calls.length);
    expect(q.report()).toMatchObject({ stopped: ['c1'], restarted: ['c1'], restartFailures: [] });
  });

  test('a failed start lands in restartFailures, the others are still started, the next run retries it', async () => {
    await fake.startAll();
    const { log, text } = captureLog();
    const { q } = quiescer({ mode: 'default' }, log);
    await q.quiesce();
    fake.failNext('start', 'c2');
    await expect(q.resume()).resolves.toBeUndefined();
    expect(await running()).toEqual({ c1: true, c2: false, c3: true, p1: true });
    const report = q.report();
    expect(report.restarted).toEqual(['c3', 'c1']);
    expect(report.restartFailures).toHaveLength(1);
    expect(report.restartFailures[0]?.service).toBe('c2');
    expect(report.restartFailures[0]?.error).toMatch(/systemctl start c2 failed \(exit 1\): Job for c2\.service failed \(injected\)/);
    expect(text()).toMatch(/error.*consumer could not be started again service=c2/);
    // The record keeps c2, so the next run (same process, as in the daemon) starts it.
    expect(JSON.parse(readFileSync(recoveryPath(stateDir), 'utf8')).consumers).toEqual(['c2']);
    const started = await recoverInterruptedRun(stateDir, createSystemctl({ timeoutSec: 20, env: fake.env }), log);
    expect(started).toEqual(['c2']);
    expect(await fake.isRunning('c2')).toBe(true);
    expect(existsSync(recoveryPath(stateDir))).toBe(false);
  });

  test('a hanging stop fails after the timeout, naming the unit; nothing is left down', async () => {
    await fake.startAll();
    fake.hang('stop', 'c1', 30);
    const { log } = captureLog();
    const started = Date.now();
    const { q } = quiescer({ mode: 'default', systemctl: createSystemctl({ timeoutSec: 1, env: fake.env }) }, log);
    await expect(q.quiesce()).rejects.toThrow(/could not stop consumer c1: systemctl stop c1 timed out after 1 s/);
    expect(Date.now() - started).toBeLessThan(10000);
    expect(await running()).toEqual({ c1: true, c2: true, c3: true, p1: true });
    expect(existsSync(recoveryPath(stateDir))).toBe(false);
  });

  test('a failed provider restart aborts and starts the consumers again', async () => {
    await fake.startAll();
    fake.failNext('restart', 'p1');
    const { log } = captureLog();
    const { q, dbWaits } = quiescer({ mode: 'model' }, log);
    await expect(q.quiesce()).rejects.toThrow(/could not restart provider p1/);
    expect(dbWaits()).toBe(0);
    expect(await running()).toEqual({ c1: true, c2: true, c3: true, p1: true });
    expect(q.report().providersRestarted).toEqual([]);
  });
});
