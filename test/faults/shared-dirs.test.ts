/**
 * Two runs on the same backup directories with different state_dir (two
 * config files, a daemon and a copy of its config) share no run lock: the
 * lock inside csv2_backup_dir and inside user_data_backup_dir keeps the
 * second out (exit 7 naming the holder) while the first completes. Snapshot
 * names never collide, even for two runs in the same second.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { EXIT } from '../../src/errors';
import { UserSnapshotWriter } from '../../src/store/user-snapshot';
import { createSite, HOST, hostDirProblems, incompleteSnapshots, runCli, type Site } from '../helpers/faults';
import { captureLog } from '../helpers/capture-log';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

jest.setTimeout(120_000);

let site: Site;

beforeAll(async () => {
  site = await createSite({ label: 'shared_dirs', global: ['g'], local: ['l'], pauseInterval: 3 });
  await site.db.conn.query('CREATE TABLE g (id INT PRIMARY KEY, v TEXT); INSERT INTO g VALUES (1, "a"); CREATE TABLE l (id INT PRIMARY KEY, v TEXT); INSERT INTO l VALUES (1, "x")');
  site.writeConfig({ pause_interval: 0 });
  expect((await site.run()).code).toBe(0);
  site.writeConfig();
});

afterAll(async () => {
  await site.cleanup();
  cleanupTempDirs();
});

/** A second config file: same database, its own state_dir, and the directories given. */
function otherConfig(dirs: { csv2: string; user: string }): string {
  const dir = tempDir('sbf-other-');
  const file = join(dir, 'schema_backup.conf');
  writeFileSync(
    file,
    dump({ csv2_backup_dir: dirs.csv2, user_data_backup_dir: dirs.user, state_dir: join(dir, 'state'), db_config: site.db.credentialsFile, pause_interval: 0, global: ['g'], local: ['l'] }),
  );
  return file;
}

test.each([
  ['csv2_backup_dir', () => ({ csv2: site.csv2Dir, user: join(tempDir('sbf-other-user-'), 'u') }), () => site.csv2Dir],
  ['user_data_backup_dir', () => ({ csv2: join(tempDir('sbf-other-csv2-'), 'c'), user: site.userDir }), () => site.userDir],
])('a second run on the same %s with another state_dir: exit 7 naming the holder; the first run completes', async (_name, dirs, shared) => {
  await site.db.conn.query(`UPDATE g SET v = '${Date.now()}'; UPDATE l SET v = '${Date.now()}'`);
  const first = site.start(['--log-level', 'debug']);
  // The first run holds its locks while it waits pause_interval with the consumer stopped.
  await first.waitForStderr(/pausing after stopping consumers/);
  const second = await runCli(['--config', otherConfig(dirs()), '--host-name', HOST], { env: site.env });
  const context = `exit ${second.code}\n${second.stderr}`;
  expect({ context, code: second.code }).toEqual({ context, code: EXIT.busy });
  expect(second.stderr).toContain(`another schema_backup run (PID ${first.pid}`);
  expect(second.stderr).toContain(join(shared(), '.schema_backup.lock'));
  const r = await first.result;
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
  expect(incompleteSnapshots(site.userDir)).toEqual([]);
  expect(hostDirProblems(site.hostDir)).toEqual([]);
  expect(readdirSync(site.userDir).filter((n) => n.endsWith('.partial') || n.includes('lock'))).toEqual([]);
  expect(existsSync(join(site.csv2Dir, '.schema_backup.lock'))).toBe(false);
});

test('a snapshot begun in the same second as the previous one gets a directory of its own', async () => {
  const root = tempDir('sbf-same-second-');
  const { log } = captureLog();
  // A clock that stays in the same second: the second snapshot takes the next second at once, it does not wait for it.
  const now = () => new Date(Date.UTC(2026, 10, 21, 3, 17, 0));
  const manifest = { format: 1 as const, kind: 'user' as const, database: 'd', compressed: false, statementBytes: 1024, tables: [], views: null, triggers: [] };
  const a = await UserSnapshotWriter.begin(root, { gzip: false, log, now });
  expect(a.name).toBe('20261121031700');
  expect(await a.complete(manifest)).toBe(join(root, a.name));
  const b = await UserSnapshotWriter.begin(root, { gzip: false, log, now });
  expect(b.name).toBe('20261121031701');
  expect(existsSync(join(root, a.name, '.schema_backup', 'manifest.json'))).toBe(true);
  expect(existsSync(b.partialDir)).toBe(true);
});
