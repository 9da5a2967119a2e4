/**
 * SIGTERM and SIGKILL at several points of a run (default mode, a real
 * consumer under the fake systemctl, pause_interval 1 to widen the window
 * while it is stopped), and two runs started at the same moment.
 */
import { readdirSync } from 'node:fs';
import { EXIT } from '../../src/errors';
import { createSite, hostDirProblems, incompleteSnapshots, type Site } from '../helpers/faults';
import { cleanupTempDirs } from '../helpers/tmp';

jest.setTimeout(180_000);

let site: Site;
let faults = 0;

beforeAll(async () => {
  site = await createSite({ label: 'signals', global: ['g', 'midsize'], local: ['l'], pauseInterval: 1 });
  await site.db.conn.query(
    'CREATE TABLE g (id INT PRIMARY KEY, v TEXT); INSERT INTO g VALUES (1, "a");' +
      'CREATE TABLE midsize (id INT PRIMARY KEY, v VARCHAR(100)); INSERT INTO midsize SELECT seq, REPEAT("m", 60) FROM seq_1_to_60000;' +
      'CREATE TABLE l (id INT AUTO_INCREMENT PRIMARY KEY, v TEXT); INSERT INTO l (v) VALUES ("x")',
  );
  expect((await site.run()).code).toBe(0);
});

afterAll(async () => {
  await site.cleanup();
  cleanupTempDirs();
  // eslint-disable-next-line no-console
  console.log(`signal and concurrency faults injected: ${faults}`);
});

async function change(): Promise<void> {
  await site.db.conn.query(`UPDATE g SET v = '${Date.now()}'; UPDATE midsize SET v = REPEAT('n', 60) WHERE id = ${1 + Math.floor(Math.random() * 60000)}; INSERT INTO l (v) VALUES ('y')`);
}

/** Points of a run: a line of the debug log, or a delay after the start (ms). */
const POINTS: (RegExp | number)[] = [/phase=checking/, /pausing after stopping consumers/, /phase=dumping/, /phase=publishing/, /phase=committing/, 150, 700];
const POINT_NAMES = POINTS.map((p) => (typeof p === 'number' ? `${p} ms after start` : String(p)));
/** Points before anything is published: the previous backup must be exactly as it was. */
const BEFORE_PUBLISH = (p: RegExp | number) => typeof p !== 'number' && !/publishing|committing/.test(String(p));

async function interrupt(signal: 'SIGTERM' | 'SIGKILL', point: RegExp | number) {
  faults++;
  await change();
  const before = await site.state();
  const running = site.start(['--log-level', 'debug']);
  if (typeof point === 'number') await new Promise((r) => setTimeout(r, point));
  else await running.waitForStderr(point).catch(() => undefined); // a fast run may end first: still a valid point
  running.child.kill(signal);
  const r = await running.result;
  return { before, r };
}

describe.each(POINTS.map((p, i) => [POINT_NAMES[i], p] as const))('at %s', (_name, point) => {
  test('SIGTERM: exit 130 with the previous backup intact (or, too late to stop, a complete backup); consumer running', async () => {
    const { before, r } = await interrupt('SIGTERM', point);
    const context = `exit ${r.code} signal ${r.signal}\n${r.stderr}`;
    // Before main() installs its handlers (node still starting) the default action ends it: nothing was touched yet.
    const early = r.signal === 'SIGTERM';
    expect({ context, ok: r.code === EXIT.interrupted || r.code === EXIT.ok || early }).toEqual({ context, ok: true });
    if (early) expect(await site.state()).toEqual(before);
    if (r.code === EXIT.interrupted) {
      expect(r.stderr).toMatch(/signal received/);
      expect(r.stderr).toMatch(/interrupted/);
      expect(await site.state()).toEqual(before);
    }
    expect(hostDirProblems(site.hostDir)).toEqual([]);
    expect(incompleteSnapshots(site.userDir)).toEqual([]);
    expect(await site.consumerRunning()).toBe(true);
    const next = await site.run();
    expect(next.code).toBe(0);
  });

  test('SIGKILL: nothing half-written looks complete; the next run starts the consumer again and succeeds', async () => {
    const { before, r } = await interrupt('SIGKILL', point);
    expect(r.signal).toBe('SIGKILL');
    const after = await site.state();
    if (BEFORE_PUBLISH(point)) expect(after).toEqual(before);
    expect(incompleteSnapshots(site.userDir)).toEqual([]);
    expect([before.head, after.head]).toContain(after.head);
    const next = await site.run();
    expect({ code: next.code, stderr: next.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(await site.consumerRunning()).toBe(true);
    expect(hostDirProblems(site.hostDir)).toEqual([]);
    expect(incompleteSnapshots(site.userDir)).toEqual([]);
    expect(readdirSync(site.userDir).filter((n) => n.endsWith('.partial'))).toEqual([]);
    expect(readdirSync(site.stateDir).filter((n) => n !== 'status.json')).toEqual([]);
    expect((await site.state()).head).not.toBe(before.head);
  });
});

test('two runs started at the same moment: exactly one runs, the other exits 7 (busy) touching nothing', async () => {
  for (let round = 0; round < 3; round++) {
    faults++;
    await change();
    site.services?.clearCalls();
    const a = site.start();
    const b = site.start();
    const results = await Promise.all([a.result, b.result]);
    const codes = results.map((r) => r.code).sort();
    expect({ codes, stderr: results.map((r) => r.stderr) }).toEqual({ codes: [EXIT.ok, EXIT.busy], stderr: expect.any(Array) });
    const busy = results.find((r) => r.code === EXIT.busy);
    expect(busy?.stderr).toMatch(/another schema_backup run \(PID \d+/);
    const calls = (await site.services?.calls()) ?? [];
    expect(calls.filter((c) => c.verb === 'stop')).toHaveLength(1);
    expect(calls.filter((c) => c.verb === 'start')).toHaveLength(1);
    expect(await site.consumerRunning()).toBe(true);
  }
});
