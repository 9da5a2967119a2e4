/** The recovery record: a run that died with consumers stopped is repaired by the next one. */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/proc/run';
import { createSystemctl } from '../../src/services/systemctl';
import { recoverInterruptedRun, recoveryPath, writeRecoveryRecord, RECOVERY_FILE } from '../../src/services/recovery';
import { createFakeServices, type FakeServices } from '../helpers/fake-services';
import { captureLog, deadPid } from '../helpers/capture-log';



let fake: FakeServices;
let stateDir: string;

beforeEach(() => {
  fake = createFakeServices({ a: 'exec sleep 1000', b: 'exec sleep 1000', c: 'exec sleep 1000' });
  stateDir = mkdtempSync(join(tmpdir(), 'sb-recovery-'));
});

afterEach(async () => {
  await fake.cleanup();
  rmSync(stateDir, { recursive: true, force: true });
});

test('a record left by a dead run: its consumers are started (reverse order) and the record removed', async () => {
  await fake.start('c'); // not in the record, running: untouched
  writeFileSync(
    recoveryPath(stateDir),
    JSON.stringify({ pid: await deadPid(), startedAt: '2020-01-01T00:00:00.000Z', consumers: ['a', 'b'] }),
  );
  fake.clearCalls();
  const { log, text } = captureLog();
  const started = await recoverInterruptedRun(stateDir, createSystemctl({ timeoutSec: 20, env: fake.env }), log);
  expect(started).toEqual(['b', 'a']);
  expect((await fake.calls()).map((c) => `${c.verb} ${c.unit}`)).toEqual(['start b', 'start a']);
  expect(await fake.isRunning('a')).toBe(true);
  expect(await fake.isRunning('b')).toBe(true);
  expect(existsSync(recoveryPath(stateDir))).toBe(false);
  expect(text()).toMatch(/warn .*starting consumers left stopped by an interrupted run consumers=\["a","b"\]/);
});

test('no record: nothing to do', async () => {
  const started = await recoverInterruptedRun(stateDir, createSystemctl({ timeoutSec: 20, env: fake.env }), captureLog().log);
  expect(started).toEqual([]);
  expect(await fake.calls()).toEqual([]);
});

test('a record of a live run is left alone', async () => {
  const record = JSON.stringify({ pid: process.ppid, startedAt: '2020-01-01T00:00:00.000Z', consumers: ['a'] });
  writeFileSync(recoveryPath(stateDir), record);
  const started = await recoverInterruptedRun(stateDir, createSystemctl({ timeoutSec: 20, env: fake.env }), captureLog().log);
  expect(started).toEqual([]);
  expect(await fake.calls()).toEqual([]);
  expect(readFileSync(recoveryPath(stateDir), 'utf8')).toBe(record);
});

test('a consumer that cannot be started is logged; the others are started; the record is removed', async () => {
  writeFileSync(recoveryPath(stateDir), JSON.stringify({ pid: await deadPid(), startedAt: 'x', consumers: ['a', 'nosuch', 'b'] }));
  const { log, text } = captureLog();
  const started = await recoverInterruptedRun(stateDir, createSystemctl({ timeoutSec: 20, env: fake.env }), log);
  expect(started).toEqual(['b', 'a']);
  expect(text()).toMatch(/error .*could not start consumer left stopped by an interrupted run service=nosuch .*not found/);
  expect(existsSync(recoveryPath(stateDir))).toBe(false);
});

test('an unreadable record is moved aside and reported', async () => {
  writeFileSync(recoveryPath(stateDir), '{"pid": 12');
  const { log, text } = captureLog();
  expect(await recoverInterruptedRun(stateDir, createSystemctl({ timeoutSec: 20, env: fake.env }), log)).toEqual([]);
  expect(existsSync(recoveryPath(stateDir))).toBe(false);
  expect(readdirSync(stateDir).filter((f) => f.startsWith(`${RECOVERY_FILE}.corrupt-`))).toHaveLength(1);
  expect(text()).toMatch(/recovery record unreadable/);
});

test('a record written by a process that was then SIGKILLed is recovered', async () => {
  // A real process writes the record (as the quiescer does) and dies without cleaning up.
  const script = `
    const fs = require('node:fs');
    fs.writeFileSync(process.argv[1], JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString(), consumers: ['a', 'b'] }));
    process.kill(process.pid, 'SIGKILL');
  `;
  await run(process.execPath, ['-e', script, recoveryPath(stateDir)]).catch(() => undefined);
  expect(existsSync(recoveryPath(stateDir))).toBe(true);
  const started = await recoverInterruptedRun(stateDir, createSystemctl({ timeoutSec: 20, env: fake.env }), captureLog().log);
  expect(started).toEqual(['b', 'a']);
});

test('writeRecoveryRecord writes an owner-stamped record, 0600, and a record of this live run is left alone', async () => {
  const record = await writeRecoveryRecord(join(stateDir, 'sub'), ['a', 'b']);
  const path = recoveryPath(join(stateDir, 'sub'));
  expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ pid: process.pid, consumers: ['a', 'b'], nonce: record.nonce });
  expect(statSync(path).mode & 0o777).toBe(0o600);
  const started = await recoverInterruptedRun(join(stateDir, 'sub'), createSystemctl({ timeoutSec: 20, env: fake.env }), captureLog().log);
  expect(started).toEqual([]);
  expect(existsSync(path)).toBe(true);
});
