/** schema_restore handles consumers as the backup does: stopped for the restore, started again (not in -t mode). */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { createTestDatabase, quoteIdent, rowCount, testDatabaseName, testServer, type TestDatabase } from '../helpers/db';
import { createFakeServices, type FakeServices } from '../helpers/fake-services';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

const ROOT = join(__dirname, '..', '..');
let src: TestDatabase;
let services: FakeServices;
let conf: string;
const targets: string[] = [];

function cli(script: string, args: string[], env: NodeJS.ProcessEnv) {
  const r = spawnSync('node', [join(ROOT, 'dist', 'src', 'cli', script), ...args], { encoding: 'utf8', env: { ...env, GIT_CONFIG_GLOBAL: '/dev/null' }, timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  src = await createTestDatabase('restore_svc');
  await src.conn.query("CREATE TABLE g (id INT PRIMARY KEY); INSERT INTO g VALUES (1),(2),(3)");
  services = createFakeServices({ 'csv2-consumer': 'sleep 600' });
  await services.startAll();
  const dir = tempDir('sbt-restore-svc-');
  conf = join(dir, 'schema_backup.conf');
  await fs.writeFile(conf, [`csv2_backup_dir: ${join(dir, 'csv2')}`, `state_dir: ${join(dir, 'state')}`, 'providers: []', 'consumers: [csv2-consumer]', 'pause_interval: 0', 'global: [g]', ''].join('\n'));
  const r = cli('schema_backup.js', ['--online', '--config', conf, '--db-config', src.credentialsFile, '--host-name', 'h'], services.env);
  expect(r.code).toBe(0);
}, 60_000);

afterAll(async () => {
  const admin = await createConnection(testServer());
  for (const t of targets) await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(t)}`);
  await admin.end();
  await services?.stopAll();
  await services?.cleanup();
  await src?.drop();
  cleanupTempDirs();
});

test('default mode: the consumer is stopped during the restore and running again after', async () => {
  const target = testDatabaseName('restore_svc_dst');
  targets.push(target);
  services.clearCalls();
  const r = cli('schema_restore.js', ['--config', conf, '--db-config', src.credentialsFile, '--host-name', 'h', '--database', target], services.env);
  expect(r.stderr).not.toMatch(/ error /);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/stopped csv2-consumer; started again csv2-consumer/);
  const verbs = (await services.calls()).filter((c) => c.unit === 'csv2-consumer' && (c.verb === 'stop' || c.verb === 'start')).map((c) => c.verb);
  expect(verbs).toEqual(['stop', 'start']);
  expect(await services.isRunning('csv2-consumer')).toBe(true);
  expect(await rowCount(src.conn, target, 'g')).toBe(3);
});

test('-t: the consumer is left stopped after a successful restore', async () => {
  const target = testDatabaseName('restore_svc_t');
  targets.push(target);
  const r = cli('schema_restore.js', ['-t', '--config', conf, '--db-config', src.credentialsFile, '--host-name', 'h', '--database', target], services.env);
  expect(r.code).toBe(0);
  expect(await services.isRunning('csv2-consumer')).toBe(false);
  await services.start('csv2-consumer');
});
