/**
 * `schema_backup verify` against real backups on a real MariaDB: passes on a
 * good backup, fails naming the table when a file was altered (with its
 * manifest sha256 updated to match, so the content check catches it; and
 * without, so the sha256 check does). The scratch database never survives.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { loadCredentials } from '../../src/config/credentials';
import { loadConfig } from '../../src/config/load';
import { silentLogger } from '../../src/log';
import { verifyLatest } from '../../src/verify/verify';
import { createTestDatabase, testServer, type TestDatabase } from '../helpers/db';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

const ROOT = join(__dirname, '..', '..');
const HOST = 'test-host';

let src: TestDatabase;
let admin: Connection;
let dir: string;

function cli(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync('node', [join(ROOT, 'dist', 'src', 'cli', 'schema_backup.js'), ...args], { encoding: 'utf8', env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null' }, timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A copy of the backup (host dir + user data) with its own config, to tamper with. */
async function copyOfBackup(): Promise<{ conf: string; csv2: string; user: string }> {
  const copy = tempDir('sbt-verify-copy-');
  const csv2 = join(copy, 'csv2');
  const user = join(copy, 'user');
  cpSync(join(dir, 'csv2'), csv2, { recursive: true });
  cpSync(join(dir, 'user'), user, { recursive: true, verbatimSymlinks: true });
  const conf = join(copy, 'schema_backup.conf');
  await fs.writeFile(conf, configText(csv2, user, join(copy, 'state')));
  return { conf, csv2, user };
}

function configText(csv2: string, user: string, state: string): string {
  return [`csv2_backup_dir: ${csv2}`, `user_data_backup_dir: ${user}`, `state_dir: ${state}`, 'providers: []', 'consumers: []', 'global: [g_conf, g_types]', 'local: [l_users]', 'ephemeral: [e_cache]', ''].join('\n');
}

/** Scratch and staging databases a run named in its output (other test files restore at the same time) that still exist. */
async function scratchLeft(output: string): Promise<string[]> {
  const named = [...new Set(output.match(/sb(?:restore|verify)_[0-9a-f]{12}/g) ?? [])];
  expect(named.length).toBeGreaterThan(0);
  const [rows] = await admin.query<RowDataPacket[]>('SELECT SCHEMA_NAME AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN (?)', [named]);
  return rows.map((r) => r.n as string);
}

beforeAll(async () => {
  src = await createTestDatabase('verify_src');
  await src.conn.query(`
    CREATE TABLE g_conf (k VARCHAR(40) PRIMARY KEY, v TEXT) CHARSET utf8mb4;
    INSERT INTO g_conf VALUES ('a', 'alpha'), ('b', 'beta; ''quoted''\\nline'), ('c', '😀');
    CREATE TABLE g_types (id INT AUTO_INCREMENT PRIMARY KEY, f FLOAT, d DATETIME(6), b BLOB, j JSON, p POINT);
    INSERT INTO g_types (f, d, b, j, p) VALUES (1.5e-7, '2024-01-02 03:04:05.678901', X'00FF27', '{"x":1}', POINT(1,2)), (NULL, NULL, NULL, NULL, NULL);
    DELETE FROM g_types WHERE id = 2;
    CREATE TABLE l_users (id INT PRIMARY KEY, name VARCHAR(50));
    INSERT INTO l_users VALUES (1, 'ann'), (2, 'bob');
    CREATE TABLE e_cache (id INT PRIMARY KEY);
    INSERT INTO e_cache VALUES (1);
    CREATE TRIGGER l_users_bi BEFORE INSERT ON l_users FOR EACH ROW SET NEW.name = LOWER(NEW.name);
    CREATE VIEW v_users AS SELECT name FROM l_users;
  `);
  admin = await createConnection({ ...testServer(), charset: 'utf8mb4' });
  dir = tempDir('sbt-verify-');
  const conf = join(dir, 'schema_backup.conf');
  await fs.writeFile(conf, configText(join(dir, 'csv2'), join(dir, 'user'), join(dir, 'state')));
  const r = cli(['--online', '--config', conf, '--db-config', src.credentialsFile, '--host-name', HOST]);
  expect(r.code).toBe(0);
}, 60_000);

afterAll(async () => {
  await admin?.end();
  await src?.drop();
  cleanupTempDirs();
});

test('verify passes on a good backup and prints a row per table', async () => {
  const r = cli(['verify', '--config', join(dir, 'schema_backup.conf'), '--db-config', src.credentialsFile, '--host-name', HOST]);
  expect(r.stderr).not.toMatch(/error/);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^g_conf\s+global\s+ok\s+3\s+3\s+ok\s+ok$/m);
  expect(r.stdout).toMatch(/^g_types\s+global\s+ok\s+1\s+1\s+ok\s+ok$/m);
  expect(r.stdout).toMatch(/^l_users\s+local\s+ok\s+2\s+2\s+ok\s+ok$/m);
  expect(r.stdout).toMatch(/^e_cache\s+ephemeral\s+ok\s+0\s+-\s+-\s+ok$/m);
  expect(r.stdout).toMatch(/verify: OK \(4 tables\)/);
  expect(await scratchLeft(r.stdout + r.stderr)).toEqual([]);
});

test('a file altered with its manifest sha256 updated: the content check fails, naming the table', async () => {
  const b = await copyOfBackup();
  const file = join(b.csv2, HOST, 'g_conf');
  const text = (await fs.readFile(file, 'utf8')).replace("'alpha'", "'alphA'");
  await fs.writeFile(file, text);
  const manifestPath = join(b.csv2, HOST, '.schema_backup', 'manifest.json');
  const manifest = JSON.parse(await fs.readFile(manifestPath, 'utf8'));
  const entry = manifest.tables.find((t: { table: string }) => t.table === 'g_conf');
  entry.sha256 = createHash('sha256').update(text).digest('hex');
  await fs.writeFile(manifestPath, JSON.stringify(manifest, null, 2));

  const r = cli(['verify', '--config', b.conf, '--db-config', src.credentialsFile, '--host-name', HOST]);
  expect(r.code).toBe(8);
  expect(r.stdout).toMatch(/^g_conf\s+global\s+ok\s+3\s+3\s+differs\s+FAILED$/m);
  expect(r.stdout).toMatch(/^l_users\s+local\s+ok\s+2\s+2\s+ok\s+ok$/m);
  expect(r.stdout).toMatch(/verify: FAILED \(g_conf\)/);
  expect(await scratchLeft(r.stdout + r.stderr)).toEqual([]);
});

test('a file altered without touching the manifest: refused by sha256, naming the file', async () => {
  const b = await copyOfBackup();
  const manifestText = await fs.readFile(join(b.user, 'latest', '.schema_backup', 'manifest.json'));
  expect(manifestText.length).toBeGreaterThan(0);
  const file = join(b.user, 'latest', 'l_users');
  await fs.writeFile(file, (await fs.readFile(file, 'utf8')).replace("'bob'", "'eve'"));
  const r = cli(['verify', '--config', b.conf, '--db-config', src.credentialsFile, '--host-name', HOST]);
  expect(r.code).toBe(8);
  expect(r.stdout).toMatch(/backup did not restore: .*\n\s+\S*\/l_users: sha256 [0-9a-f]{64} differs from the manifest/);
  expect(r.stdout).toMatch(/verify: FAILED/);
  expect(await scratchLeft(r.stdout)).toEqual([]);
});

test('verifyLatest (the daemon\'s entry): a result per table; a manifest row count the restore does not give is caught', async () => {
  const b = await copyOfBackup();
  const config = loadConfig(b.conf, { installRoot: ROOT }).config;
  const credentials = loadCredentials({ cliPath: src.credentialsFile, configured: null });
  const good = await verifyLatest(config, credentials, HOST, silentLogger());
  expect(good.ok).toBe(true);
  expect(good.error).toBeNull();
  expect(good.tables.map((t) => [t.table, t.structure, t.rows, t.content]).sort()).toEqual([
    ['e_cache', 'ok', 0, '-'],
    ['g_conf', 'ok', 3, 'ok'],
    ['g_types', 'ok', 1, 'ok'],
    ['l_users', 'ok', 2, 'ok'],
  ]);
  const manifestPath = join(b.csv2, HOST, '.schema_backup', 'manifest.json');
  const manifest = JSON.parse(await fs.readFile(manifestPath, 'utf8'));
  manifest.tables.find((t: { table: string }) => t.table === 'g_types').rows = 2;
  await fs.writeFile(manifestPath, JSON.stringify(manifest));
  const bad = await verifyLatest(config, credentials, HOST, silentLogger());
  expect(bad.ok).toBe(false);
  expect(bad.tables.filter((t) => !t.ok).map((t) => [t.table, t.rows, t.expectedRows])).toEqual([['g_types', 1, 2]]);
  expect(await scratchLeft([good.scratchDatabase, bad.scratchDatabase].join(' '))).toEqual([]);
});
