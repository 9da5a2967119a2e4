/**
 * On a terminal a one-shot backup shows its progress on one updating line
 * (table, rows against the estimate, bytes, rate, time left); without one it
 * does not. The terminal is a real pseudo-terminal (util-linux `script`).
 */
import { join } from 'node:path';
import { CLI, runCli, writeConfig } from '../helpers/backup';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { gitEnv } from '../helpers/git';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';
import { run } from '../../src/proc/run';

jest.setTimeout(120_000);
let db: TestDatabase;
let config: string;

beforeAll(async () => {
  db = await createTestDatabase('progress');
  await db.conn.query(`CREATE TABLE events (id INT PRIMARY KEY, note VARCHAR(200));
    INSERT INTO events SELECT seq, REPEAT(CONCAT('event ', seq, ' '), 8) FROM seq_1_to_1500000; ANALYZE TABLE events;`);
  const work = tempDir('progress-');
  config = writeConfig(work, { csv2BackupDir: join(work, 'git'), userDataBackupDir: join(work, 'user'), stateDir: join(work, 'state'), credentialsFile: db.credentialsFile, local: ['events'] });
});

afterAll(async () => {
  await db?.drop();
  cleanupTempDirs();
});

test('on a pseudo-terminal: an updating line with the table, rows of the estimate, rate and time left', async () => {
  const command = [process.execPath, CLI, '--config', config, '--host-name', 'h', '--online'].join(' ');
  const r = await run('script', ['-qec', command, '/dev/null'], { env: gitEnv(), timeoutMs: 100_000 });
  expect(r.stdout).toContain('backup complete');
  expect(r.stdout).toMatch(/events \[[█░ =-]*\] \d+% \| [\d,]+ of ~[\d,]+ rows, [\d.]+ MiB \| [\d.]+ MiB\/s \| ETA/);
});

test('on a pseudo-terminal an SQLite export shows a byte bar over the backup files it reads', async () => {
  const file = join(tempDir('progress-export-'), 'out.sqlite');
  const command = [process.execPath, CLI, 'export', '--sqlite', file, '--config', config, '--host-name', 'h'].join(' ');
  const r = await run('script', ['-qec', command, '/dev/null'], { env: gitEnv(), timeoutMs: 100_000 });
  expect(r.stdout).toMatch(/exporting \[[█░ =-]*\] \d+% \| [\d.]+ MiB of [\d.]+ MiB \| [\d.]+ MiB\/s \| ETA/);
});

test('without a terminal: no progress line, only the summary', async () => {
  const r = await runCli(['--config', config, '--host-name', 'h', '--online']);
  expect(r.code).toBe(0);
  expect(r.stdout + r.stderr).not.toMatch(/ETA/);
});
