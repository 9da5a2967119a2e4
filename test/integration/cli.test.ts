/** The CLI as a subprocess: arguments in; stdout, stderr and exit code out; nothing touched on errors. */
import { existsSync, promises as fs, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT } from '../../src/errors';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { initRepo } from '../helpers/git';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';
import { runCli, writeConfig } from '../helpers/backup';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('cli');
  await db.conn.query("CREATE TABLE cfg (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO cfg VALUES (1, 'one'); CREATE TABLE people (id INT PRIMARY KEY)");
});

afterAll(async () => {
  await db?.drop();
  cleanupTempDirs();
});

function setup(extra: Partial<Parameters<typeof writeConfig>[1]> = {}) {
  const work = tempDir('cli-');
  const spec = {
    csv2BackupDir: join(work, 'git'),
    userDataBackupDir: join(work, 'user'),
    stateDir: join(work, 'state'),
    credentialsFile: db.credentialsFile,
    global: ['cfg'],
    local: ['people'],
    ...extra,
  };
  return { work, spec, config: writeConfig(work, spec) };
}

test('--help documents the modes and exit codes', async () => {
  const r = await runCli(['--help']);
  expect(r.code).toBe(0);
  for (const flag of ['--config', '--db-config', '--host-name', '--ephemeral-directory', '--model', '--target', '--online', '--dry-run', 'Exit codes']) {
    expect(r.stdout).toContain(flag);
  }
});

test('an unknown argument is a usage error (2)', async () => {
  const r = await runCli(['--frobnicate']);
  expect(r.code).toBe(EXIT.usage);
  expect(r.stderr).toMatch(/unknown argument "--frobnicate"/);
});

test('two modes at once are refused', async () => {
  const r = await runCli(['--target', '--online']);
  expect(r.code).toBe(EXIT.usage);
});

test('an invalid configuration: every problem with file and line, exit 3, nothing created', async () => {
  const work = tempDir('cli-bad-');
  const config = join(work, 'schema_backup.conf');
  writeFileSync(config, `csv2_backup_dir: ${join(work, 'git')}\nstate_dir: ${join(work, 'state')}\nglobal: cfg\nlocal:\n  - 123\npause_interval: soon\n`);
  const r = await runCli(['--config', config, '--db-config', db.credentialsFile, '--host-name', 'h']);
  expect(r.code).toBe(EXIT.config);
  expect(r.stderr).toContain(`${config}:3`);
  expect(r.stderr).toContain(`${config}:5`);
  expect(r.stderr).toContain(`${config}:6`);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  expect(existsSync(join(work, 'git'))).toBe(false);
  expect(existsSync(join(work, 'state'))).toBe(false);
});

test('a missing credentials file is a configuration error naming it', async () => {
  const { work, config } = setup({ credentialsFile: '/nonexistent/creds.yaml' });
  const r = await runCli(['--config', config, '--host-name', 'h', '--online']);
  expect(r.code).toBe(EXIT.config);
  expect(r.stderr).toContain('/nonexistent/creds.yaml');
  expect(existsSync(join(work, 'git'))).toBe(false);
});

test('an unreachable database is a database error (4); no backup directory is touched', async () => {
  const { work } = setup();
  const creds = join(work, 'creds.yaml');
  writeFileSync(creds, 'database:\n  db_host: 127.0.0.1\n  db_port: 1\n  db_user: root\n  db_password: ""\n  db_name: x\n', { mode: 0o600 });
  const config = writeConfig(work, { csv2BackupDir: join(work, 'git'), stateDir: join(work, 'state'), credentialsFile: creds, global: ['cfg'] });
  const r = await runCli(['--config', config, '--host-name', 'h', '--online']);
  expect(r.code).toBe(EXIT.database);
  expect(r.stderr).toMatch(/cannot connect to 127\.0\.0\.1:1/);
  expect(existsSync(join(work, 'git'))).toBe(false);
});

test('--dry-run prints the plan and warnings and touches nothing', async () => {
  const { work, config } = setup({ ephemeral: ['missing_table'] });
  const r = await runCli(['--config', config, '--host-name', 'h', '--dry-run']);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^cfg\s+global\s+structure -> .*\/git\/h\/cfg; rows -> .*\(git\)$/m);
  expect(r.stdout).toMatch(/^people\s+local\s+.*rows -> .*\/user\/<snapshot>\/people$/m);
  expect(r.stdout).toMatch(/missing_table is listed as ephemeral .* no such table/);
  expect(await fs.readdir(work)).toEqual(['schema_backup.conf']);
});

test('a run prints its summary and exits 0', async () => {
  const { config } = setup();
  const r = await runCli(['--config', config, '--host-name', 'h', '--online']);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/backup complete/);
  expect(r.stdout).toMatch(/global 1 \(1 rows\), local 1 \(0 rows\)/);
  expect(r.stdout).toMatch(/commit: [0-9a-f]{40}/);
});

test('user data inside the git work tree is refused unless ignored', async () => {
  const work = tempDir('cli-git-');
  await initRepo(work);
  const spec = { csv2BackupDir: join(work, 'backups'), userDataBackupDir: join(work, 'private'), stateDir: join(work, 'state'), credentialsFile: db.credentialsFile, global: ['cfg'], local: ['people'] };
  const config = writeConfig(tempDir('cli-conf-'), spec);
  const refused = await runCli(['--config', config, '--host-name', 'h', '--online']);
  expect(refused.code).toBe(EXIT.config);
  expect(refused.stderr).toMatch(/inside the git work tree .* not ignored/);
  expect(existsSync(join(work, 'backups'))).toBe(false);
  writeFileSync(join(work, '.gitignore'), 'private/\n');
  const allowed = await runCli(['--config', config, '--host-name', 'h', '--online']);
  expect(allowed.code).toBe(0);
});

test('a csv2_backup_dir outside any repository becomes one, and the run says so', async () => {
  const { work, config } = setup();
  const r = await runCli(['--config', config, '--host-name', 'h', '--online']);
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/initialised a git repository/);
  expect(existsSync(join(work, 'git', '.git'))).toBe(true);
});

test('user_data_compress: gzip writes TABLE.gz files that gunzip to the plain file', async () => {
  await db.conn.query('INSERT INTO people VALUES (7), (8)');
  const { work, config } = setup({ extra: 'user_data_compress: gzip' });
  const r = await runCli(['--config', config, '--host-name', 'h', '--online']);
  expect(r.code).toBe(0);
  const latest = join(work, 'user', 'latest');
  expect((await fs.readdir(latest)).filter((n) => !n.startsWith('.'))).toEqual(['people.gz']);
  const { gunzipSync } = await import('node:zlib');
  const text = gunzipSync(await fs.readFile(join(latest, 'people.gz'))).toString('utf8');
  expect(text).toContain('INSERT INTO `people` VALUES (7),(8);\n');
  expect((await fs.stat(join(latest, 'people.gz'))).mode & 0o777).toBe(0o600);
});

test('classification conflicts are resolved the safe way in a real run: local beats global, rows never reach git', async () => {
  await db.conn.query("CREATE TABLE IF NOT EXISTS both_classes (id INT PRIMARY KEY, secret VARCHAR(20)); REPLACE INTO both_classes VALUES (1, 'do-not-commit')");
  const { work, config } = setup({ global: ['cfg', 'both_classes'], local: ['people', 'both_classes'] });
  const r = await runCli(['--config', config, '--host-name', 'h', '--online']);
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/both_classes is listed as both local .* and global .*: treated as local/);
  expect(await fs.readFile(join(work, 'git', 'h', 'both_classes'), 'utf8')).not.toContain('do-not-commit');
  expect(await fs.readFile(join(work, 'user', 'latest', 'both_classes'), 'utf8')).toContain('do-not-commit');
});

test('with gzip, the snapshot manifest itself stays plain JSON', async () => {
  const { work, config } = setup({ extra: 'user_data_compress: gzip' });
  expect((await runCli(['--config', config, '--host-name', 'h', '--online'])).code).toBe(0);
  const manifest = JSON.parse(await fs.readFile(join(work, 'user', 'latest', '.schema_backup', 'manifest.json'), 'utf8'));
  expect(manifest.compressed).toBe(true);
  expect(manifest.tables.map((t: { file: string }) => t.file)).toEqual(['people.gz']);
});

test('verify_after_backup proves the backup under the run lock and records it in status.json', async () => {
  const { work, config } = setup({ extra: 'verify_after_backup: true' });
  const r = await runCli(['--config', config, '--host-name', 'h', '--online']);
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/backup verified/);
  const status = JSON.parse(await fs.readFile(join(work, 'state', 'status.json'), 'utf8'));
  expect(status).toMatchObject({ result: 'success', verify: { ok: true, message: null } });
});

test('verify proves a gzip snapshot too (the content checksum is recomputed through gunzip)', async () => {
  const { work, config } = setup({ extra: 'user_data_compress: gzip\nverify_after_backup: true' });
  const r = await runCli(['--config', config, '--host-name', 'h', '--online']);
  expect(r.code).toBe(0);
  const status = JSON.parse(await fs.readFile(join(work, 'state', 'status.json'), 'utf8'));
  expect(status.verify).toEqual({ ok: true, message: null, at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
  const manifest = JSON.parse(await fs.readFile(join(work, 'user', 'latest', '.schema_backup', 'manifest.json'), 'utf8'));
  expect(manifest.tables[0].contentSha256).toMatch(/^[0-9a-f]{64}$/);
});
