/**
 * Restore and verify as an application user (ALL PRIVILEGES on its source
 * and target databases, nothing else), on tables whose rows take several
 * INSERT statements (the shapes that used to hang on MariaDB's bulk-insert
 * table lock): default, --merge, --replace and a gzip snapshot, compared by
 * CHECKSUM TABLE and SHOW CREATE TABLE; a user missing a privilege is told
 * which GRANT it needs and nothing is touched; verify with --database; a
 * verification that fails after a backup is recorded as a failure (exit 8).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { checksumTable, createTestDatabase, credentialsYaml, quoteIdent, testDatabaseName, testServer, type TestDatabase } from '../helpers/db';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

const ROOT = join(__dirname, '..', '..');
const HOST = 'app-host';
const TABLES = ['m', 'k', 'owner', 'item'];

let src: TestDatabase;
let admin: Connection;
let dir: string;
const suffix = randomBytes(3).toString('hex');
const APP = `sbt_app_${suffix}`;
const WEAK = `sbt_weak_${suffix}`;
const PASSWORD = `pw-${randomBytes(6).toString('hex')}`;
const target = testDatabaseName('app_dst');
const scratch = testDatabaseName('app_verify');
const weakTarget = testDatabaseName('app_weak');

function cli(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('node', [join(ROOT, 'dist', 'src', 'cli', script), ...args], { env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 100_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - started });
    });
  });
}

async function writeCredentials(user: string, database: string): Promise<string> {
  const file = join(dir, `${user}-${database}.yml`);
  // TCP to 127.0.0.1: the server runs skip-name-resolve and the users are @'127.0.0.1'.
  await fs.writeFile(file, credentialsYaml({ ...testServer(), host: '127.0.0.1', user, password: PASSWORD }, database), { mode: 0o600 });
  return file;
}

async function writeConfig(name: string, extra: string[] = []): Promise<string> {
  const base = join(dir, name);
  const conf = join(base, 'schema_backup.conf');
  await fs.mkdir(base, { recursive: true });
  await fs.writeFile(
    conf,
    [`csv2_backup_dir: ${join(base, 'csv2')}`, `user_data_backup_dir: ${join(base, 'user')}`, `state_dir: ${join(base, 'state')}`, 'providers: []', 'consumers: []', 'global: [owner, item]', 'local: [m, k]', ...extra, ''].join('\n'),
  );
  return conf;
}

async function query<T = RowDataPacket>(sql: string, values: unknown[] = []): Promise<T[]> {
  const [rows] = await admin.query<RowDataPacket[]>(sql, values);
  return rows as T[];
}

async function tablesOf(db: string): Promise<string[]> {
  return (await query<{ n: string }>('SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME', [db])).map((r) => r.n);
}

async function showCreate(db: string, table: string): Promise<string> {
  const [row] = await query(`SHOW CREATE TABLE ${quoteIdent(db)}.${quoteIdent(table)}`);
  return String(Object.values(row as object)[1]).replace(/ AUTO_INCREMENT=\d+/, '');
}

/** Every table: same rows (CHECKSUM TABLE) and same structure, foreign keys included, as the source. */
async function expectSameAsSource(db: string): Promise<void> {
  for (const t of TABLES) {
    expect({ t, sum: await checksumTable(admin, db, t), create: await showCreate(db, t) }).toEqual({ t, sum: await checksumTable(admin, src.name, t), create: await showCreate(src.name, t) });
  }
  expect((await tablesOf(db)).filter((t) => /^_sb[ro]_/.test(t))).toEqual([]);
}

let appCreds: string;
let conf: string;
let gzipConf: string;

beforeAll(async () => {
  dir = tempDir('sbt-app-user-');
  src = await createTestDatabase('app_src');
  admin = await createConnection({ ...testServer(), charset: 'utf8mb4', multipleStatements: true });
  await admin.query(`CREATE USER '${APP}'@'127.0.0.1' IDENTIFIED BY '${PASSWORD}'; CREATE USER '${WEAK}'@'127.0.0.1' IDENTIFIED BY '${PASSWORD}'`);
  for (const db of [src.name, target, scratch]) await admin.query(`GRANT ALL PRIVILEGES ON ${quoteIdent(db.replace(/_/g, '\\_'))}.* TO '${APP}'@'127.0.0.1'`);
  await admin.query(`GRANT SELECT, INSERT, CREATE ON ${quoteIdent(weakTarget.replace(/_/g, '\\_'))}.* TO '${WEAK}'@'127.0.0.1'`);
  await admin.query(`GRANT ALL PRIVILEGES ON ${quoteIdent(src.name.replace(/_/g, '\\_'))}.* TO '${WEAK}'@'127.0.0.1'`);
  const definer = `DEFINER=\`${APP}\`@\`127.0.0.1\``;
  await src.conn.query(`
    SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO';
    CREATE TABLE m (g VARCHAR(32) NOT NULL, n VARCHAR(64) NOT NULL, t TEXT NOT NULL, PRIMARY KEY (g,n)) CHARSET=utf8mb3;
    INSERT INTO m SELECT CONCAT('group-', seq DIV 6), CONCAT('meta-', seq), REPEAT(CONCAT('line ', seq, ' '), 700) FROM seq_1_to_554;
    -- No STORED generated column here: MariaDB 10.11's CHECKSUM TABLE gives such a table different sums for the same rows.
    CREATE TABLE k (id INT NOT NULL PRIMARY KEY, v VARCHAR(20));
    INSERT INTO k (id, v) SELECT seq, CONCAT('v', seq) FROM seq_1_to_60000;
    CREATE TABLE owner (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20));
    INSERT INTO owner VALUES (0, 'zero'), (1, 'one');
    CREATE TABLE item (id INT PRIMARY KEY, owner INT, k_id INT, KEY (owner), KEY (k_id),
      CONSTRAINT fk_item_owner FOREIGN KEY (owner) REFERENCES owner (id), FOREIGN KEY (k_id) REFERENCES k (id) ON DELETE CASCADE);
    INSERT INTO item VALUES (1, 0, 1), (2, 1, 2);
    CREATE ${definer} TRIGGER item_bi BEFORE INSERT ON item FOR EACH ROW SET NEW.k_id = IFNULL(NEW.k_id, 3);
    CREATE ${definer} VIEW v_items AS SELECT i.id, o.name FROM item i JOIN owner o ON o.id = i.owner;
    CREATE ${definer} VIEW v_count AS SELECT COUNT(*) AS n FROM v_items;
  `);
  appCreds = await writeCredentials(APP, src.name);
  conf = await writeConfig('plain');
  gzipConf = await writeConfig('gzip', ['user_data_compress: gzip']);
  for (const c of [conf, gzipConf]) {
    const r = await cli('schema_backup.js', ['--online', '--config', c, '--db-config', appCreds, '--host-name', HOST]);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
  }
}, 120_000);

afterAll(async () => {
  for (const db of [target, scratch, weakTarget]) await admin?.query(`DROP DATABASE IF EXISTS ${quoteIdent(db)}`);
  await admin?.query(`DROP USER IF EXISTS '${APP}'@'127.0.0.1', '${WEAK}'@'127.0.0.1'`);
  await admin?.end();
  await src?.drop();
  cleanupTempDirs();
});

function restore(c: string, extra: string[] = [], creds = appCreds, database = target) {
  return cli('schema_restore.js', ['--online', '--config', c, '--db-config', creds, '--host-name', HOST, '--database', database, ...extra]);
}

test('as the application user: default restore (multi-statement tables, no lock wait), then --merge, --replace and a gzip snapshot', async () => {
  const first = await restore(conf);
  expect(first.stderr).not.toMatch(/ error |lock wait|deadlock/i);
  expect(first.code).toBe(0);
  // The bulk-insert table lock once made this wait innodb_lock_wait_timeout (50 s) and fail.
  expect(first.ms).toBeLessThan(30_000);
  expect(first.stdout).toMatch(/local 2 \(60554 rows\)/);
  await expectSameAsSource(target);
  expect(await tablesOf(target)).toEqual(['item', 'k', 'm', 'owner', 'v_count', 'v_items']);
  // Foreign keys, triggers and views work on the restored tables.
  await expect(admin.query(`INSERT INTO ${quoteIdent(target)}.item (id, owner) VALUES (9, 12345)`)).rejects.toThrow(/foreign key/i);
  await admin.query(`INSERT INTO ${quoteIdent(target)}.item (id, owner) VALUES (9, 1)`);
  expect(await query(`SELECT k_id FROM ${quoteIdent(target)}.item WHERE id = 9`)).toEqual([{ k_id: 3 }]);
  expect(await query(`SELECT n FROM ${quoteIdent(target)}.v_count`)).toEqual([{ n: 3 }]);
  await admin.query(`DELETE FROM ${quoteIdent(target)}.item WHERE id = 9`);

  await admin.query(`UPDATE ${quoteIdent(target)}.m SET t = 'changed' WHERE n = 'meta-7'; UPDATE ${quoteIdent(target)}.k SET v = 'changed' WHERE id = 59999`);
  const merged = await restore(conf, ['--merge']);
  expect(merged.stderr).not.toMatch(/ error /);
  expect(merged.code).toBe(0);
  expect(merged.stdout).not.toMatch(/NOT merged/);
  await expectSameAsSource(target);

  const replaced = await restore(conf, ['--replace']);
  expect(replaced.code).toBe(0);
  await expectSameAsSource(target);
  await expect(admin.query(`INSERT INTO ${quoteIdent(target)}.item (id, owner) VALUES (9, 12345)`)).rejects.toThrow(/foreign key/i);

  const gz = await restore(gzipConf, ['--replace']);
  expect(gz.code).toBe(0);
  await expectSameAsSource(target);
}, 120_000);

test('a user missing privileges is told which GRANT it needs, before anything is touched (--dry-run too)', async () => {
  const weak = await writeCredentials(WEAK, src.name);
  for (const extra of [[], ['--dry-run']]) {
    const r = await restore(conf, extra, weak, weakTarget);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(new RegExp(`${WEAK}@127.0.0.1 lacks the privileges to restore into database ${weakTarget}: DROP, ALTER, TRIGGER, CREATE VIEW, SHOW VIEW on database`));
    expect(r.stderr).toMatch(/GRANT DROP, ALTER, TRIGGER, CREATE VIEW, SHOW VIEW ON `/);
    expect(r.stderr).not.toMatch(/staging/);
    expect(await query('SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [weakTarget])).toEqual([]);
  }
});

test('verify as the application user: the default scratch database is refused with the reason, --database works and is emptied', async () => {
  const refused = await cli('schema_backup.js', ['verify', '--config', conf, '--db-config', appCreds, '--host-name', HOST]);
  expect(refused.code).toBe(4);
  expect(refused.stderr).toMatch(/verify cannot use the scratch database sbverify_[0-9a-f]{12}: .*lacks the privileges.*CREATE.*--database NAME or verify_database:/);
  expect(refused.stdout).not.toMatch(/FAILED/);

  await admin.query(`CREATE DATABASE ${quoteIdent(scratch)}`);
  const ok = await cli('schema_backup.js', ['verify', '--config', conf, '--db-config', appCreds, '--host-name', HOST, '--database', scratch]);
  expect(ok.stderr).not.toMatch(/ error /);
  expect(ok.code).toBe(0);
  expect(ok.stdout).toMatch(/^m\s+local\s+ok\s+554\s+554\s+ok\s+ok$/m);
  expect(ok.stdout).toMatch(/^k\s+local\s+ok\s+60000\s+60000\s+ok\s+ok$/m);
  expect(ok.stdout).toMatch(/verify: OK \(4 tables\)/);
  expect(await tablesOf(scratch)).toEqual([]);
}, 120_000);

test('verify_after_backup: a verification that fails is exit 8, a failure in status.json and in the metrics; one that passes is recorded too', async () => {
  const state = join(dir, 'verify-after');
  const metrics = join(state, 'schema_backup.prom');
  const status = join(state, 'state', 'status.json');
  const failing = await writeConfig('verify-after', [`metrics_file: ${metrics}`, 'verify_after_backup: true']);
  const r = await cli('schema_backup.js', ['--online', '--config', failing, '--db-config', appCreds, '--host-name', HOST]);
  expect(r.code).toBe(8);
  const record = JSON.parse(await fs.readFile(status, 'utf8'));
  expect(record).toMatchObject({ result: 'failure', exitCode: 8, lastSuccessAt: null, verify: { ok: false } });
  expect(record.error).toMatch(/^verification failed: verification could not run: .*lacks the privileges/);
  let prom = await fs.readFile(metrics, 'utf8');
  expect(prom).toMatch(/^schema_backup_last_run_success 0$/m);
  expect(prom).toMatch(/^schema_backup_last_verify_success 0$/m);
  expect(prom).toMatch(/^schema_backup_last_verify_timestamp_seconds \d+(\.\d+)?$/m);
  const st = await cli('schema_backup.js', ['status', '--config', failing]);
  expect(st.code).toBe(1);

  const passing = await writeConfig('verify-after', [`metrics_file: ${metrics}`, 'verify_after_backup: true', `verify_database: ${scratch}`]);
  await admin.query(`CREATE DATABASE IF NOT EXISTS ${quoteIdent(scratch)}`);
  const r2 = await cli('schema_backup.js', ['--online', '--config', passing, '--db-config', appCreds, '--host-name', HOST]);
  expect(r2.stderr).not.toMatch(/ error /);
  expect(r2.code).toBe(0);
  expect(JSON.parse(await fs.readFile(status, 'utf8'))).toMatchObject({ result: 'success', exitCode: 0, verify: { ok: true } });
  prom = await fs.readFile(metrics, 'utf8');
  expect(prom).toMatch(/^schema_backup_last_run_success 1$/m);
  expect(prom).toMatch(/^schema_backup_last_verify_success 1$/m);
}, 120_000);
