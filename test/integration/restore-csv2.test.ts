/**
 * The CSV2-shaped fixture, with the kinds that once did not come back (ENUM
 * error values, a system-versioned table's history, sequences), backed up and
 * restored by an application user (ALL PRIVILEGES on the source and target
 * databases only): default, --merge into a target holding older rows,
 * --replace, and from a gzip snapshot. Every table is compared by CHECKSUM
 * TABLE (ephemeral ones come back empty), and `verify --database` passes.
 * A --merge that cannot merge a table (no key) is refused, changing nothing.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { writeConfig } from '../helpers/backup';
import { CSV2_CLASSES, CSV2_KIND_CLASSES, createCsv2Fixture, type Csv2Classes } from '../helpers/csv2-fixture';
import { checksumTable, createTestDatabase, credentialsYaml, quoteIdent, rowCount, testDatabaseName, testServer, type TestDatabase } from '../helpers/db';
import { gitEnv } from '../helpers/git';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

jest.setTimeout(180_000);

const ROOT = join(__dirname, '..', '..');
const HOST = 'csv2.example.org';
const suffix = randomBytes(3).toString('hex');
const APP = `sbt_csv2app_${suffix}`;
const PASSWORD = `pw-${randomBytes(6).toString('hex')}`;
const target = testDatabaseName('csv2_dst');
const scratch = testDatabaseName('csv2_verify');

const classes: Csv2Classes = {
  global: [...CSV2_CLASSES.global, ...CSV2_KIND_CLASSES.global],
  local: [...CSV2_CLASSES.local, ...CSV2_KIND_CLASSES.local],
  ephemeral: [...CSV2_CLASSES.ephemeral, ...CSV2_KIND_CLASSES.ephemeral],
  ignore: [...CSV2_CLASSES.ignore],
};
const withRows = [...classes.global, ...classes.local];

let src: TestDatabase;
let admin: Connection;
let dir: string;
let appCreds: string;
let plainConf: string;
let gzipConf: string;
const backups: { code: number; stdout: string; stderr: string }[] = [];

function cli(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'cli', script), ...args], { env: gitEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

function restore(conf: string, extra: string[] = [], database = target) {
  return cli('schema_restore.js', ['--online', '--config', conf, '--db-config', appCreds, '--host-name', HOST, '--database', database, ...extra]);
}

async function query<T = RowDataPacket>(sql: string, values: unknown[] = []): Promise<T[]> {
  const [rows] = await admin.query<RowDataPacket[]>(sql, values);
  return rows as T[];
}

/** Every saved table has the source's CHECKSUM TABLE; ephemeral ones exist and are empty; ignored ones are absent. */
async function expectRestored(db: string, merged = false): Promise<void> {
  const sums = async (d: string) => Promise.all(withRows.map(async (t) => [t, await checksumTable(admin, d, t)] as const));
  expect(await sums(db)).toEqual(await sums(src.name));
  // A merge keeps the target's rows of ephemeral tables (and its triggers fire: csv2_clouds' touches csv2_timestamps).
  if (!merged) for (const t of classes.ephemeral.filter((n) => !n.endsWith('_seq'))) expect({ t, rows: await rowCount(admin, db, t) }).toEqual({ t, rows: 0 });
  for (const t of classes.ignore) expect(await checksumTable(admin, db, t)).toBeNull();
  expect((await query('SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE ?', [db, '\\_sb%'])).length).toBe(0);
}

beforeAll(async () => {
  dir = tempDir('sbt-restore-csv2-');
  src = await createTestDatabase('csv2_src');
  admin = await createConnection({ ...testServer(), charset: 'utf8mb4', multipleStatements: true });
  await admin.query(`CREATE USER '${APP}'@'127.0.0.1' IDENTIFIED BY '${PASSWORD}'`);
  for (const db of [src.name, target, scratch]) await admin.query(`GRANT ALL PRIVILEGES ON ${quoteIdent(db.replace(/_/g, '\\_'))}.* TO '${APP}'@'127.0.0.1'`);
  // Built by the application user, as CSV2 builds its own: triggers and views have it as definer.
  const app = await createConnection({ ...testServer(), host: '127.0.0.1', user: APP, password: PASSWORD, database: src.name, charset: 'utf8mb4', multipleStatements: true });
  try {
    await createCsv2Fixture(app, { kinds: true });
  } finally {
    await app.end();
  }
  appCreds = join(dir, 'app.yml');
  // TCP to 127.0.0.1: the server runs skip-name-resolve and the user is @'127.0.0.1'.
  await fs.writeFile(appCreds, credentialsYaml({ ...testServer(), host: '127.0.0.1', user: APP, password: PASSWORD }, src.name), { mode: 0o600 });
  const config = async (name: string, extra?: string) => {
    const base = join(dir, name);
    await fs.mkdir(join(base, 'state'), { recursive: true });
    return writeConfig(base, { csv2BackupDir: join(base, 'git'), userDataBackupDir: join(base, 'user'), stateDir: join(base, 'state'), credentialsFile: appCreds, ...classes, extra });
  };
  plainConf = await config('plain');
  gzipConf = await config('gzip', 'user_data_compress: gzip');
  for (const conf of [plainConf, gzipConf]) backups.push(await cli('schema_backup.js', ['--online', '--config', conf, '--host-name', HOST]));
});

afterAll(async () => {
  for (const db of [target, scratch]) await admin?.query(`DROP DATABASE IF EXISTS ${quoteIdent(db)}`);
  await admin?.query(`DROP USER IF EXISTS '${APP}'@'127.0.0.1'`);
  await admin?.end();
  await src?.drop();
  cleanupTempDirs();
});

test('the backups succeed and skip nothing: sequences are saved, history rows are counted', async () => {
  for (const b of backups) {
    expect({ code: b.code, stderr: b.stderr }).toEqual({ code: 0, stderr: expect.not.stringMatching(/sequence|not backed up/i) });
  }
  const manifest = JSON.parse(await fs.readFile(join(dir, 'plain', 'git', HOST, '.schema_backup', 'manifest.json'), 'utf8'));
  const entry = (t: string) => manifest.tables.find((e: { table: string }) => e.table === t);
  expect(entry('csv2_job_id_seq')).toMatchObject({ rowsSaved: true, rows: 1 });
  expect(entry('csv2_vm_id_seq')).toMatchObject({ rowsSaved: false });
  const [[history]] = (await src.conn.query('SELECT COUNT(*) FROM csv2_user_audit FOR SYSTEM_TIME ALL', [])) as unknown as [[Record<string, number>]];
  const all = Number(Object.values(history)[0]);
  expect(all).toBeGreaterThan(await rowCount(src.conn, src.name, 'csv2_user_audit'));
  const user = JSON.parse(await fs.readFile(join(dir, 'plain', 'user', 'latest', '.schema_backup', 'manifest.json'), 'utf8'));
  expect(user.tables.find((e: { table: string }) => e.table === 'csv2_user_audit')).toMatchObject({ rows: all });
  // The common ENUM stays as it was ('' loads back as the error value there); only the ENUM with a '' member writes 0.
  const enumFile = await fs.readFile(join(dir, 'plain', 'git', HOST, 'csv2_enum_states'), 'utf8');
  expect(enumFile).toContain("INSERT INTO `csv2_enum_states` VALUES (1,'','new'),(2,0,''),(3,'up','running'),(4,NULL,'held'),(5,0,''),(6,'down','new');");
});

test('default restore, then --merge into a target holding older rows, --replace, and a gzip snapshot: every table comes back exactly', async () => {
  const first = await restore(plainConf);
  expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: expect.not.stringMatching(/ error /) });
  await expectRestored(target);
  // What CHECKSUM TABLE sums, checked by value too: the error value is index 0, not the '' member; history and sequence state are there.
  expect(await query(`SELECT id, with_empty + 0 AS i, plain + 0 AS p FROM ${quoteIdent(target)}.csv2_enum_states WHERE id IN (1, 2, 5) ORDER BY id`)).toEqual([
    { id: 1, i: 1, p: 1 },
    { id: 2, i: 0, p: 0 },
    { id: 5, i: 0, p: 0 },
  ]);
  // The saved state (as after a server restart): values the source had cached but not handed out are skipped, never reused.
  expect(await query(`SELECT NEXTVAL(${quoteIdent(target)}.csv2_job_id_seq) AS n`)).toEqual(await query(`SELECT next_not_cached_value AS n FROM ${quoteIdent(src.name)}.csv2_job_id_seq`));
  await admin.query(`SELECT NEXTVAL(${quoteIdent(target)}.csv2_vm_id_seq)`);

  // Older rows: changed and deleted rows, an ENUM error value turned into a member, lost history, the sequences behind.
  const t = quoteIdent(target);
  await admin.query(`
    SET SESSION foreign_key_checks = 0;
    UPDATE ${t}.csv2_configuration SET config_value = 'old' WHERE category = 'weird';
    DELETE FROM ${t}.csv2_group_metadata WHERE metadata_name LIKE 'meta-1%';
    UPDATE ${t}.csv2_user SET password = 'old' WHERE username LIKE 'user2%';
    UPDATE ${t}.csv2_enum_states SET with_empty = '', plain = 'new' WHERE id = 2;
    DELETE HISTORY FROM ${t}.csv2_user_audit;
    DELETE FROM ${t}.csv2_keys;
    SET SESSION foreign_key_checks = 1;`);
  // The sequence is set back below the backup's state: a fresh one at its start.
  await admin.query(`DROP SEQUENCE ${t}.csv2_job_id_seq; CREATE SEQUENCE ${t}.csv2_job_id_seq START WITH 1000 INCREMENT BY 7 MINVALUE 10 MAXVALUE 999999 CACHE 5 CYCLE`);
  expect(await checksumTable(admin, target, 'csv2_user')).not.toBe(await checksumTable(admin, src.name, 'csv2_user'));
  const merged = await restore(plainConf, ['--merge']);
  expect({ code: merged.code, stderr: merged.stderr, stdout: merged.stdout }).toEqual({ code: 0, stderr: expect.not.stringMatching(/ error /), stdout: expect.not.stringMatching(/NOT merged/) });
  await expectRestored(target, true);

  const replaced = await restore(plainConf, ['--replace']);
  expect(replaced.code).toBe(0);
  await expectRestored(target);

  await admin.query(`DROP DATABASE ${quoteIdent(target)}; CREATE DATABASE ${quoteIdent(target)}`);
  const gz = await restore(gzipConf);
  expect({ code: gz.code, stderr: gz.stderr }).toEqual({ code: 0, stderr: expect.not.stringMatching(/ error /) });
  expect(await fs.readdir(join(dir, 'gzip', 'user', 'latest'))).toContain('csv2_user_audit.gz');
  await expectRestored(target);
});

test('verify --database as the application user: every table, the sequence and the history, OK', async () => {
  await admin.query(`CREATE DATABASE IF NOT EXISTS ${quoteIdent(scratch)}`);
  for (const conf of [plainConf, gzipConf]) {
    const r = await cli('schema_backup.js', ['verify', '--config', conf, '--db-config', appCreds, '--host-name', HOST, '--database', scratch]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.not.stringMatching(/ error /) });
    expect(r.stdout).toMatch(/^csv2_user_audit\s+local\s+ok\s+(\d+)\s+\1\s+ok\s+ok$/m);
    expect(r.stdout).toMatch(/^csv2_job_id_seq\s+global\s+ok\s+1\s+1\s+ok\s+ok$/m);
    expect(r.stdout).toMatch(/^csv2_enum_states\s+global\s+ok\s+6\s+6\s+ok\s+ok$/m);
    expect(r.stdout).toMatch(new RegExp(`verify: OK \\(${withRows.length + classes.ephemeral.length} tables\\)`));
  }
});

test('--merge into a table without a key is refused before anything changes (exit 2), naming it; --dry-run says so too', async () => {
  const work = join(dir, 'keyless');
  await fs.mkdir(join(work, 'state'), { recursive: true });
  const db = await createTestDatabase('csv2_keyless');
  try {
    await db.conn.query("CREATE TABLE log_lines (at INT, line VARCHAR(20)); INSERT INTO log_lines VALUES (1, 'a'), (2, 'b'); CREATE TABLE k (id INT PRIMARY KEY, v INT); INSERT INTO k VALUES (1, 1)");
    const conf = writeConfig(work, { csv2BackupDir: join(work, 'git'), stateDir: join(work, 'state'), credentialsFile: db.credentialsFile, global: ['log_lines', 'k'] });
    expect((await cli('schema_backup.js', ['--online', '--config', conf, '--host-name', HOST])).code).toBe(0);
    await db.conn.query("DELETE FROM log_lines WHERE at = 2; UPDATE k SET v = 9");
    const before = [await checksumTable(db.conn, db.name, 'log_lines'), await checksumTable(db.conn, db.name, 'k')];
    for (const extra of [['--dry-run'], []]) {
      const r = await cli('schema_restore.js', ['--online', '--config', conf, '--host-name', HOST, '--merge', ...extra]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--merge into database \S+ cannot merge this table; nothing was changed:\n {2}log_lines: it has no primary or unique key/);
      expect(r.stdout).toBe('');
    }
    expect([await checksumTable(db.conn, db.name, 'log_lines'), await checksumTable(db.conn, db.name, 'k')]).toEqual(before);
    // Left out with --tables, the rest merges.
    const ok = await cli('schema_restore.js', ['--online', '--config', conf, '--host-name', HOST, '--merge', '--tables', 'k']);
    expect(ok.code).toBe(0);
    expect(await query(`SELECT v FROM ${quoteIdent(db.name)}.k`)).toEqual([{ v: 1 }]);
  } finally {
    await db.drop();
  }
});
