/**
 * MariaDB -> backup (the CLI) -> `schema_backup export --sqlite` -> `schema_restore
 * --from-sqlite` -> MariaDB, on a real server: every type and the CSV2-shaped
 * database come back with equal CHECKSUM TABLE, the SQLite file is sound on
 * its own, and a corrupted backup is refused before anything is written.
 */
import { spawnSync } from 'node:child_process';
import { promises as fs, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { writeConfig } from '../helpers/backup';
import { CSV2_CLASSES, createCsv2Fixture } from '../helpers/csv2-fixture';
import { checksumTable, createTestDatabase, quoteIdent, rowCount, testDatabaseName, testServer, type TestDatabase } from '../helpers/db';
import { EVERY_TYPE_CLASSES, EVERY_TYPE_SCHEMA } from '../helpers/every-type';
import { gitEnv } from '../helpers/git';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

const ROOT = join(__dirname, '..', '..');
const HOST = 'sqlite-host';

interface Classes {
  global: string[];
  local: string[];
  ephemeral: string[];
  ignore?: string[];
}

interface Backup {
  dir: string;
  conf: string;
  src: TestDatabase;
  classes: Classes;
}

let admin: Connection;
let types: Backup;
let csv2: Backup;
const databases: string[] = [];

function cli(script: string, args: string[], env: NodeJS.ProcessEnv = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'src', 'cli', script), ...args], { encoding: 'utf8', env: { ...gitEnv(), ...env }, timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

async function backupOf(src: TestDatabase, classes: Classes, extra = ''): Promise<Backup> {
  const dir = tempDir('sbt-sqlite-');
  const conf = writeConfig(dir, {
    csv2BackupDir: join(dir, 'csv2'),
    userDataBackupDir: join(dir, 'user'),
    stateDir: join(dir, 'state'),
    credentialsFile: src.credentialsFile,
    ...classes,
    extra,
  });
  const r = cli('schema_backup.js', ['--online', '--config', conf, '--host-name', HOST]);
  expect(r.stderr).not.toMatch(/ error /);
  expect(r.code).toBe(0);
  return { dir, conf, src, classes };
}

function exportSqlite(b: Backup, file: string) {
  return cli('schema_backup.js', ['export', '--sqlite', file, '--config', b.conf, '--host-name', HOST]);
}

function restoreSqlite(b: Backup, file: string, database: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}) {
  return cli('schema_restore.js', ['--online', '--config', b.conf, '--from-sqlite', file, '--database', database, ...extra], env);
}

function newDatabase(label: string): string {
  const name = testDatabaseName(label);
  databases.push(name);
  return name;
}

async function tablesOf(db: string): Promise<string[]> {
  const [rows] = await admin.query<RowDataPacket[]>('SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [db]);
  return rows.map((r) => r.n as string).sort();
}

async function expectSameTables(b: Backup, dst: string): Promise<void> {
  for (const t of [...b.classes.global, ...b.classes.local]) {
    expect({ table: t, sum: await checksumTable(admin, dst, t) }).toEqual({ table: t, sum: await checksumTable(admin, b.src.name, t) });
  }
  for (const t of b.classes.ephemeral) {
    expect({ table: t, rows: await rowCount(admin, dst, t) }).toEqual({ table: t, rows: 0 });
    const show = async (db: string) => ((await admin.query<RowDataPacket[]>(`SHOW CREATE TABLE ${quoteIdent(db)}.${quoteIdent(t)}`))[0][0] as Record<string, string>)['Create Table'];
    expect((await show(dst)).replace(/ AUTO_INCREMENT=\d+/, '')).toBe((await show(b.src.name)).replace(/ AUTO_INCREMENT=\d+/, ''));
  }
}

/** The SQLite file on its own: sound, foreign keys hold, and every saved table with its rows. */
function checkSqliteFile(file: string): Database.Database {
  const db = new Database(file, { readonly: true });
  expect(db.pragma('integrity_check')).toEqual([{ integrity_check: 'ok' }]);
  expect(db.pragma('foreign_key_check')).toEqual([]);
  return db;
}

beforeAll(async () => {
  admin = await createConnection({ ...testServer(), charset: 'utf8mb4', multipleStatements: true });
  const typesDb = await createTestDatabase('sqlite_types');
  await typesDb.conn.query(EVERY_TYPE_SCHEMA);
  // A gzip snapshot: the export reads both kinds.
  types = await backupOf(typesDb, EVERY_TYPE_CLASSES, 'user_data_compress: gzip');
  const csv2Db = await createTestDatabase('sqlite_csv2');
  await createCsv2Fixture(csv2Db.conn, { metadataRows: 150, jobs: 3000 });
  csv2 = await backupOf(csv2Db, CSV2_CLASSES);
}, 180_000);

afterAll(async () => {
  for (const db of databases) await admin?.query(`DROP DATABASE IF EXISTS ${quoteIdent(db)}`);
  await admin?.end();
  await types?.src.drop();
  await csv2?.src.drop();
  cleanupTempDirs();
});

test('every type: backup (gzip snapshot) -> SQLite -> MariaDB gives equal checksums; triggers and views come back', async () => {
  const file = join(types.dir, 'types.sqlite');
  const ex = exportSqlite(types, file);
  expect(ex.stderr).not.toMatch(/ error /);
  expect(ex.code).toBe(0);
  expect(ex.stdout).toMatch(/tables 7 \(19 rows\), triggers 1, views 2/);
  expect(statSync(file).mode & 0o777).toBe(0o600);

  const db = checkSqliteFile(file);
  const row = db.prepare('SELECT bu, typeof(bu) AS tbu, dec65, f, bt, js FROM types_g WHERE id = 1').safeIntegers(true).get();
  expect(row).toEqual({
    bu: '18446744073709551615',
    tbu: 'text',
    dec65: '-99999999999999999999999999999999999.999999999999999999999999999999',
    f: 3.402820018375656e38,
    bt: '18446744073709551615',
    js: '{"a":[1,2,{"b":"c\\"d"}]}',
  });
  expect(db.prepare("SELECT kind, name, table_name FROM _schema_backup_objects ORDER BY kind, position").all()).toEqual([
    { kind: 'trigger', name: 'trg_local', table_name: 't_local' },
    { kind: 'view', name: 'v_local', table_name: null },
    { kind: 'view', name: 'a_count', table_name: null },
  ]);
  expect(db.prepare("SELECT value FROM _schema_backup_meta WHERE key = 'source_host'").get()).toEqual({ value: HOST });
  expect(db.prepare('SELECT COUNT(*) AS n FROM t_eph').get()).toEqual({ n: 0 });
  db.close();

  const tmp = tempDir('sbt-sqlite-tmp-');
  const dst = newDatabase('sqlite_types_back');
  const r = restoreSqlite(types, file, dst, [], { TMPDIR: tmp });
  expect(r.stderr).not.toMatch(/ error /);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/restored: global 4 \(13 rows\), local 2 \(6 rows\), ephemeral 1 \(0 rows\); triggers 1, views 2/);
  await expectSameTables(types, dst);
  expect(await tablesOf(dst)).toEqual(['a_count', 't_child', 't_eph', 't_latin1', 't_local', 't_myisam', 't_nopk', 'types_g', 'v_local']);
  await admin.query(`INSERT INTO ${quoteIdent(dst)}.t_local (id, name, note) VALUES (100, 'x', 'n')`);
  const [fired] = await admin.query<RowDataPacket[]>(`SELECT name, note FROM ${quoteIdent(dst)}.t_local WHERE id = 100`);
  expect(fired).toEqual([{ name: 'y;;', note: 'trg;n' }]);
  // The regenerated backup (local rows) is removed.
  expect(readdirSync(tmp)).toEqual([]);
});

test('the CSV2-shaped database: every table through SQLite, foreign keys kept and holding, ignored tables absent', async () => {
  const file = join(csv2.dir, 'csv2.sqlite');
  const ex = exportSqlite(csv2, file);
  expect(ex.code).toBe(0);
  const db = checkSqliteFile(file);
  const sqliteTables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_schema\\_backup\\_%' ESCAPE '\\' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
  expect(sqliteTables).toEqual([...CSV2_CLASSES.global, ...CSV2_CLASSES.local, ...CSV2_CLASSES.ephemeral].sort());
  const fks = db.prepare("SELECT COUNT(*) AS n FROM pragma_foreign_key_list('csv2_user_groups')").get();
  expect(fks).toEqual({ n: 2 });
  // A latin1 value and a utf16 one read as UTF-8 text.
  expect(db.prepare("SELECT password FROM csv2_clouds WHERE cloud_name = 'cloud-1'").get()).toEqual({ password: "pw1'" });
  expect((db.prepare("SELECT note FROM csv2_user WHERE username = 'user1'").get() as { note: string }).note).toMatch(/^note 1 😀 /);
  db.close();

  const dst = newDatabase('sqlite_csv2_back');
  const r = restoreSqlite(csv2, file, dst);
  expect(r.stderr).not.toMatch(/ error /);
  expect(r.code).toBe(0);
  await expectSameTables(csv2, dst);
  expect(await tablesOf(dst)).not.toContain('django_session');
});

test('the restore keeps its safety: --dry-run changes nothing, a target holding the tables is refused', async () => {
  const file = join(types.dir, 'types-safety.sqlite');
  expect(exportSqlite(types, file).code).toBe(0);
  const dry = newDatabase('sqlite_dry');
  const d = restoreSqlite(types, file, dry, ['--dry-run']);
  expect(d.code).toBe(0);
  expect(d.stdout).toMatch(/dry run/);
  expect(await tablesOf(dry)).toEqual([]);

  const busy = newDatabase('sqlite_busy');
  await admin.query(`CREATE DATABASE ${quoteIdent(busy)}; CREATE TABLE ${quoteIdent(busy)}.t_latin1 (x INT)`);
  const r = restoreSqlite(types, file, busy);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/already holds t_latin1; nothing was changed/);
  const only = restoreSqlite(types, file, busy, ['--tables', 'types_g']);
  expect(only.code).toBe(0);
  expect(await checksumTable(admin, busy, 'types_g')).toBe(await checksumTable(admin, types.src.name, 'types_g'));
});

test('a corrupted backup file is refused before anything is written: exit 8 naming it, no file left', async () => {
  const b = await backupOf(types.src, EVERY_TYPE_CLASSES);
  const victim = join(b.dir, 'csv2', HOST, 'types_g');
  const text = await fs.readFile(victim);
  text[text.indexOf('DELIMITER')] = 'd'.charCodeAt(0);
  await fs.writeFile(victim, text);
  const outDir = tempDir('sbt-sqlite-out-');
  const file = join(outDir, 'refused.sqlite');
  const r = exportSqlite(b, file);
  expect(r.code).toBe(8);
  expect(r.stderr).toMatch(/types_g: sha256 [0-9a-f]{64} differs from the manifest/);
  expect(readdirSync(outDir)).toEqual([]);
});

test('a file changed after the export is refused by the restore, naming what is wrong, and nothing is restored', async () => {
  const file = join(types.dir, 'edited.sqlite');
  expect(exportSqlite(types, file).code).toBe(0);
  const db = new Database(file);
  db.prepare("UPDATE types_g SET dec65 = '1); DROP TABLE x; --' WHERE id = 4").run();
  db.close();
  const dst = newDatabase('sqlite_edited');
  const r = restoreSqlite(types, file, dst);
  expect(r.code).toBe(8);
  expect(r.stderr).toMatch(/table types_g, row 4 of the SQLite file: .* is not a decimal value/);
  expect(await tablesOf(dst)).toEqual([]);
});
