/**
 * Tables whose rows take several INSERT statements but less than the old
 * 32 MiB commit size: once, MariaDB's bulk-insert table lock (first insert
 * into an empty table, unique and foreign-key checks off) made the other
 * loading connections wait innodb_lock_wait_timeout and the restore fail.
 * Backed up as `local`, restored and verified within a normal test time.
 * The shapes (554 wide rows, 60k small ones) now fit one statement;
 * `m` is grown past the 16 MiB statement limit so that it still takes several.
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { createConnection, type Connection } from 'mysql2/promise';
import { checksumTable, createTestDatabase, quoteIdent, testDatabaseName, testServer, type TestDatabase } from '../helpers/db';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

const ROOT = join(__dirname, '..', '..');
let src: TestDatabase;
let admin: Connection;
let conf: string;
const target = testDatabaseName('multi_dst');

function cli(script: string, args: string[]) {
  const started = Date.now();
  const r = spawnSync('node', [join(ROOT, 'dist', 'src', 'cli', script), ...args], { encoding: 'utf8', env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null' }, timeout: 100_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
}

beforeAll(async () => {
  src = await createTestDatabase('multi_src');
  admin = await createConnection({ ...testServer(), charset: 'utf8mb4' });
  await src.conn.query(`
    CREATE TABLE m (g VARCHAR(32) NOT NULL, n VARCHAR(64) NOT NULL, t TEXT NOT NULL, PRIMARY KEY (g,n)) CHARSET=utf8mb3;
    INSERT INTO m SELECT CONCAT('group-', seq DIV 6), CONCAT('meta-', seq), REPEAT(CONCAT('line ', seq, ' '), 700) FROM seq_1_to_2700;
    CREATE TABLE small (id INT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL);
    INSERT INTO small SELECT seq, CONCAT('value ', seq) FROM seq_1_to_60000;
  `);
  const dir = tempDir('sbt-multi-');
  conf = join(dir, 'schema_backup.conf');
  await fs.writeFile(conf, [`csv2_backup_dir: ${join(dir, 'csv2')}`, `user_data_backup_dir: ${join(dir, 'user')}`, `state_dir: ${join(dir, 'state')}`, 'providers: []', 'consumers: []', 'local: [m, small]', ''].join('\n'));
  const r = cli('schema_backup.js', ['--online', '--config', conf, '--db-config', src.credentialsFile, '--host-name', 'h']);
  expect(r.code).toBe(0);
  // The shape that used to hang: more than one INSERT statement in a table (and one table beside it).
  const statements = async (t: string) => ((await fs.readFile(join(dir, 'user', 'latest', t), 'utf8')).match(/^INSERT INTO /gm) ?? []).length;
  expect(await statements('m')).toBeGreaterThan(1);
  expect(await statements('small')).toBe(1);
}, 60_000);

afterAll(async () => {
  await admin?.query(`DROP DATABASE IF EXISTS ${quoteIdent(target)}`);
  await admin?.end();
  await src?.drop();
  cleanupTempDirs();
});

test('restore loads them at once (no lock wait), rows equal; verify passes', async () => {
  const r = cli('schema_restore.js', ['--online', '--config', conf, '--db-config', src.credentialsFile, '--host-name', 'h', '--database', target]);
  expect(r.stderr).not.toMatch(/LOCK_WAIT|DEADLOCK| error /);
  expect(r.code).toBe(0);
  expect(r.ms).toBeLessThan(30_000);
  for (const t of ['m', 'small']) expect({ t, sum: await checksumTable(admin, target, t) }).toEqual({ t, sum: await checksumTable(admin, src.name, t) });
  const v = cli('schema_backup.js', ['verify', '--config', conf, '--db-config', src.credentialsFile, '--host-name', 'h']);
  expect(v.code).toBe(0);
  expect(v.stdout).toMatch(/^m\s+local\s+ok\s+2700\s+2700\s+ok\s+ok$/m);
  expect(v.stdout).toMatch(/^small\s+local\s+ok\s+60000\s+60000\s+ok\s+ok$/m);
  expect(v.ms).toBeLessThan(30_000);
}, 120_000);
