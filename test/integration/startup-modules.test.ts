/**
 * A one-shot backup loads only what it uses at start: node-cron (outside the
 * bundle, so outside its code cache; 17 ms to load) only where a cron
 * expression is read, which a configured `schedule:` still is.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, writeConfig } from '../helpers/backup';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { gitEnv } from '../helpers/git';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

jest.setTimeout(60_000);
let db: TestDatabase;
let probe: string;

beforeAll(async () => {
  db = await createTestDatabase('startup');
  await db.conn.query('CREATE TABLE g (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO g VALUES (1, "a")');
  probe = join(tempDir('startup-probe-'), 'probe.js');
  writeFileSync(probe, "process.on('exit', () => process.stderr.write(`node-cron loaded: ${Object.keys(require.cache).some((p) => p.includes('/node-cron/'))}\\n`));\n");
});

afterAll(async () => {
  await db?.drop();
  cleanupTempDirs();
});

/** A one-shot --online backup with `extra` config lines, under a preload that reports node-cron at exit. */
function backUp(extra: string) {
  const work = tempDir('startup-');
  const config = writeConfig(work, { csv2BackupDir: join(work, 'git'), stateDir: join(work, 'state'), credentialsFile: db.credentialsFile, global: ['g'], extra });
  const run = spawnSync(process.execPath, ['--require', probe, CLI, '--config', config, '--host-name', 'h', '--online'], { env: gitEnv(), encoding: 'utf8' });
  return { status: run.status, loaded: /node-cron loaded: true/.test(run.stderr), reported: /node-cron loaded: /.test(run.stderr), stderr: run.stderr };
}

test('without schedule: the backup runs and node-cron is never loaded', () => {
  expect(backUp('')).toMatchObject({ status: 0, reported: true, loaded: false });
});

test('with schedule: node-cron checks it, and a bad one is still refused (exit 3)', () => {
  expect(backUp("schedule: '30 2 * * *'")).toMatchObject({ status: 0, loaded: true });
  const bad = backUp("schedule: 'every night at three'");
  expect(bad.status).toBe(3);
  expect(bad.stderr).toMatch(/invalid cron expression/);
});
