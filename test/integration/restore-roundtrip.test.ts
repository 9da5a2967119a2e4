/**
 * Backup (the CLI) -> schema_restore (the CLI) -> the same data, on a real
 * MariaDB: every type the backup supports, refusal, --merge, --replace,
 * corrupted files, a failure part-way, and gzip snapshots.
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { loadCredentials } from '../../src/config/credentials';
import { loadConfig } from '../../src/config/load';
import { DatabaseError, InterruptedError } from '../../src/errors';
import { createLogger, silentLogger } from '../../src/log';
import { runRestore } from '../../src/restore/run';
import { checksumTable, createTestDatabase, quoteIdent, rowCount, testDatabaseName, testServer, type TestDatabase } from '../helpers/db';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';
import { EVERY_TYPE_SCHEMA } from '../helpers/every-type';

const ROOT = join(__dirname, '..', '..');
const HOST = 'test-host';

const SCHEMA = EVERY_TYPE_SCHEMA;

const GLOBAL = ['types_g', 't_latin1', 't_nopk', 't_myisam'];
const LOCAL = ['t_local', 't_child'];
const DATA_TABLES = [...GLOBAL, ...LOCAL];

let src: TestDatabase;
let admin: Connection;
const extraDatabases: string[] = [];

function config(dir: string, options: { gzip?: boolean; csv2?: string } = {}): string {
  return [
    `csv2_backup_dir: ${options.csv2 ?? join(dir, 'csv2')}`,
    `user_data_backup_dir: ${join(dir, 'user')}`,
    `state_dir: ${join(dir, 'state')}`,
    'providers: []',
    'consumers: []',
    `global: [${GLOBAL.join(', ')}]`,
    `local: [${LOCAL.join(', ')}]`,
    'ephemeral: [t_eph]',
    ...(options.gzip ? ['user_data_compress: gzip'] : []),
    '',
  ].join('\n');
}

function cli(script: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync('node', [join(ROOT, 'dist', 'src', 'cli', script), ...args], { encoding: 'utf8', env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null' }, timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

interface Backup {
  dir: string;
  conf: string;
}

async function backup(options: { gzip?: boolean } = {}): Promise<Backup> {
  const dir = tempDir('sbt-restore-');
  const conf = join(dir, 'schema_backup.conf');
  await fs.writeFile(conf, config(dir, options));
  const r = cli('schema_backup.js', ['--online', '--config', conf, '--db-config', src.credentialsFile, '--host-name', HOST]);
  expect(r.stderr).not.toMatch(/error/i);
  expect(r.code).toBe(0);
  return { dir, conf };
}

function restore(b: Backup, database: string, extra: string[] = []) {
  return cli('schema_restore.js', ['--online', '--config', b.conf, '--db-config', src.credentialsFile, '--host-name', HOST, '--database', database, ...extra]);
}

function newDatabaseName(label: string): string {
  const name = testDatabaseName(label);
  extraDatabases.push(name);
  return name;
}

async function query<T = RowDataPacket>(sql: string, values: unknown[] = []): Promise<T[]> {
  const [rows] = await admin.query<RowDataPacket[]>(sql, values);
  return rows as T[];
}

async function tablesOf(db: string): Promise<string[]> {
  return (await query<{ n: string }>('SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [db])).map((r) => r.n).sort();
}

async function databaseExists(db: string): Promise<boolean> {
  return (await query('SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [db])).length > 0;
}

/** Staging and parked tables (`_sbr_*`, `_sbo_*`: restore stages inside the target) still in `db`. */
async function leftoverStaging(db: string): Promise<string[]> {
  return (await tablesOf(db)).filter((t) => /^_sb[ro]_/.test(t));
}

async function expectSameData(dst: string, tables: string[] = DATA_TABLES): Promise<void> {
  for (const t of tables) {
    expect({ table: t, sum: await checksumTable(admin, dst, t), rows: await rowCount(admin, dst, t) }).toEqual({
      table: t,
      sum: await checksumTable(admin, src.name, t),
      rows: await rowCount(admin, src.name, t),
    });
  }
}

let good: Backup;

beforeAll(async () => {
  src = await createTestDatabase('restore_src');
  await src.conn.query(SCHEMA);
  admin = await createConnection({ ...testServer(), charset: 'utf8mb4', multipleStatements: true });
  good = await backup();
}, 60_000);

afterAll(async () => {
  for (const db of extraDatabases) await admin?.query(`DROP DATABASE IF EXISTS ${quoteIdent(db)}`);
  await admin?.end();
  await src?.drop();
  cleanupTempDirs();
});

test('round trip: every type, global and local rows, ephemeral empty, triggers fire, views answer', async () => {
  const dst = newDatabaseName('restore_rt');
  const r = restore(good, dst);
  expect(r.stderr).not.toMatch(/ error /);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/restored: global 4 \(13 rows\), local 2 \(6 rows\), ephemeral 1 \(0 rows\); triggers 1, views 2/);
  await expectSameData(dst);
  expect(await tablesOf(dst)).toEqual(['a_count', 't_child', 't_eph', 't_latin1', 't_local', 't_myisam', 't_nopk', 'types_g', 'v_local']);
  expect(await rowCount(admin, dst, 't_eph')).toBe(0);
  const [eph] = await query<{ c: string }>(`SHOW CREATE TABLE ${quoteIdent(dst)}.t_eph`);
  expect(Object.values(eph as object)[1]).toMatch(/`v` varchar\(10\)/);
  // Trigger: fires on insert, with its ';;' literal intact.
  await admin.query(`INSERT INTO ${quoteIdent(dst)}.t_local (id, name, note) VALUES (100, 'x', 'n')`);
  expect(await query(`SELECT name, note FROM ${quoteIdent(dst)}.t_local WHERE id = 100`)).toEqual([{ name: 'y;;', note: 'trg;n' }]);
  // Views answer, in dependency order; the foreign key still holds.
  expect(await query(`SELECT n FROM ${quoteIdent(dst)}.a_count`)).toEqual([{ n: 4 }]);
  await expect(admin.query(`INSERT INTO ${quoteIdent(dst)}.t_child VALUES (99, 12345)`)).rejects.toThrow(/foreign key/i);
  expect(await leftoverStaging(dst)).toEqual([]);
});

test('--dry-run says what it would do and changes nothing', async () => {
  const dst = newDatabaseName('restore_dry');
  const r = restore(good, dst, ['--dry-run']);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/dry run/);
  expect(r.stdout).toMatch(/create\s+t_local \[local\] rows from user \(4\)/);
  expect(await databaseExists(dst)).toBe(false);
});

test('refuses a target holding tables to be restored, naming them, and changes nothing', async () => {
  const dst = newDatabaseName('restore_refuse');
  await admin.query(`CREATE DATABASE ${quoteIdent(dst)}; CREATE TABLE ${quoteIdent(dst)}.t_latin1 (x INT); INSERT INTO ${quoteIdent(dst)}.t_latin1 VALUES (42)`);
  const r = restore(good, dst);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/already holds t_latin1; nothing was changed/);
  expect(await tablesOf(dst)).toEqual(['t_latin1']);
  expect(await query(`SELECT x FROM ${quoteIdent(dst)}.t_latin1`)).toEqual([{ x: 42 }]);
});

test('--merge: backup rows win by key, other rows stay; a table whose structure differs refuses the merge (exit 2), changing nothing', async () => {
  const dst = newDatabaseName('restore_merge');
  const q = quoteIdent(dst);
  await admin.query(`CREATE DATABASE ${q}`);
  await admin.query(`CREATE TABLE ${q}.t_local LIKE ${quoteIdent(src.name)}.t_local`);
  await admin.query(`INSERT INTO ${q}.t_local VALUES (1, 'changed', 'old'), (999, 'mine', 'kept')`);
  await admin.query(`CREATE TABLE ${q}.t_latin1 (id INT PRIMARY KEY, s VARCHAR(50), extra INT) CHARSET latin1`);
  await admin.query(`INSERT INTO ${q}.t_latin1 VALUES (1, 'untouched', 7)`);
  const refused = restore(good, dst, ['--merge']);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toMatch(/cannot merge this table; nothing was changed:\n {2}t_latin1: its structure in the target differs/);
  expect(await query(`SELECT id, name, note FROM ${q}.t_local ORDER BY id`)).toEqual([
    { id: 1, name: 'changed', note: 'old' },
    { id: 999, name: 'mine', note: 'kept' },
  ]);
  expect(await query(`SELECT * FROM ${q}.t_latin1`)).toEqual([{ id: 1, s: 'untouched', extra: 7 }]);
  // Without the table that cannot be merged, the rest merges.
  await admin.query(`RENAME TABLE ${q}.t_latin1 TO ${q}.t_latin1_mine`);
  const r = restore(good, dst, ['--merge']);
  expect(r.code).toBe(0);
  expect(await query(`SELECT id, name, note FROM ${q}.t_local ORDER BY id`)).toEqual([
    { id: 0, name: 'zero id', note: null },
    { id: 1, name: 'one', note: 'a;b' },
    { id: 2, name: 'two', note: "it's" },
    { id: 5, name: 'five', note: 'DELIMITER ;\nEND ;;' },
    { id: 999, name: 'mine', note: 'kept' },
  ]);
  expect(await query(`SELECT * FROM ${q}.t_latin1_mine`)).toEqual([{ id: 1, s: 'untouched', extra: 7 }]);
  await expectSameData(dst, ['types_g', 't_child']);
});

test('--replace: existing tables are dropped and recreated exactly as in the backup', async () => {
  const dst = newDatabaseName('restore_replace');
  const q = quoteIdent(dst);
  await admin.query(`CREATE DATABASE ${q}`);
  await admin.query(`CREATE TABLE ${q}.t_local (id INT PRIMARY KEY, other BLOB)`);
  await admin.query(`INSERT INTO ${q}.t_local VALUES (1, 'x'), (2000, 'y')`);
  await admin.query(`CREATE TABLE ${q}.unrelated (id INT)`);
  const r = restore(good, dst, ['--replace']);
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/--replace: these tables are dropped and recreated/);
  await expectSameData(dst);
  expect(await tablesOf(dst)).toContain('unrelated');
  expect(await leftoverStaging(dst)).toEqual([]);
});

test('a file changed by one byte, or truncated, is refused by its sha256, naming it; nothing is created', async () => {
  const b = await backup();
  const file = join(b.dir, 'csv2', HOST, 't_latin1');
  const text = await fs.readFile(file);
  const at = text.indexOf('café');
  text[at] = 'C'.charCodeAt(0);
  await fs.writeFile(file, text);
  const dst = newDatabaseName('restore_corrupt');
  const r = restore(b, dst);
  expect(r.code).toBe(8);
  expect(r.stderr).toMatch(/t_latin1: sha256 [0-9a-f]{64} differs from the manifest/);
  const user = join(b.dir, 'user', 'latest', 't_local'); // plain snapshot: the file has the table's name
  await fs.truncate(user, (await fs.stat(user)).size - 10);
  await fs.writeFile(file, text.subarray(0, 0)); // also an emptied file
  const r2 = restore(b, dst);
  expect(r2.code).toBe(8);
  expect(r2.stderr).toMatch(/latest\/t_local|\d{14}\/t_local/);
  expect(r2.stderr).toMatch(/t_latin1/);
  expect(await databaseExists(dst)).toBe(false);
});

/** runRestore called in this process (no CLI), --replace into `dst`, touching no service. */
function inProcessRestore(b: Backup, dst: string) {
  const config = loadConfig(b.conf, { installRoot: ROOT }).config;
  const credentials = loadCredentials({ cliPath: src.credentialsFile, configured: null });
  const quiet = { quiesce: async () => undefined, release: async () => undefined, resume: async () => undefined, report: () => ({ mode: 'online' as const, stopped: [], alreadyStopped: [], restarted: [], restartFailures: [], providersRestarted: [], downtimeMs: null }) };
  const request = { config, credentials, hostName: HOST, snapshot: 'latest', database: dst, tables: null, only: null, mode: 'replace' as const, dryRun: false, definer: 'keep' as const };
  return { request, quiet };
}

test('with the check bypassed, a SQL error part-way leaves the target as it was', async () => {
  const b = await backup();
  // Break the last statements of one table: earlier tables load fine, this one fails mid-file.
  const file = join(b.dir, 'user', 'latest', 't_local');
  const text = (await fs.readFile(file, 'utf8')).replace("(5,'five',", "(5,'five',,");
  await fs.writeFile(file, text);
  const dst = newDatabaseName('restore_partway');
  const q = quoteIdent(dst);
  await admin.query(`CREATE DATABASE ${q}; CREATE TABLE ${q}.t_local (id INT PRIMARY KEY, v TEXT); INSERT INTO ${q}.t_local VALUES (1, 'before')`);
  await admin.query(`CREATE TABLE ${q}.types_g (id INT); INSERT INTO ${q}.types_g VALUES (3)`);
  const before = { local: await checksumTable(admin, dst, 't_local'), types: await checksumTable(admin, dst, 'types_g') };
  const { request, quiet } = inProcessRestore(b, dst);
  await expect(runRestore(request, { log: silentLogger(), quiescer: quiet })).rejects.toThrow(/checksum|differs from the manifest/);
  const lines: string[] = [];
  const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
  await expect(runRestore({ ...request, skipChecksums: true }, { log: createLogger({ stream: sink }), quiescer: quiet })).rejects.toThrow(DatabaseError);
  expect(await tablesOf(dst)).toEqual(['t_local', 'types_g']);
  expect({ local: await checksumTable(admin, dst, 't_local'), types: await checksumTable(admin, dst, 'types_g') }).toEqual(before);
  expect(await leftoverStaging(dst)).toEqual([]);
  expect(lines.join('')).not.toMatch(/sbrestore_/);
});

test('a signal while the server holds a statement stops the restore within seconds: the target as it was, no staging table left', async () => {
  const b = await backup();
  // A statement the server holds for 60 s: it waits for a user lock this test holds (loadable with the check bypassed).
  const file = join(b.dir, 'user', 'latest', 't_local');
  await fs.writeFile(file, (await fs.readFile(file, 'utf8')).replace("(5,'five',", "(5+0*GET_LOCK('sbt_restore_abort',60),'five',"));
  await admin.query("SELECT GET_LOCK('sbt_restore_abort', 0)");
  const dst = newDatabaseName('restore_abort');
  const q = quoteIdent(dst);
  await admin.query(`CREATE DATABASE ${q}; CREATE TABLE ${q}.t_local (id INT PRIMARY KEY, v TEXT); INSERT INTO ${q}.t_local VALUES (1, 'before')`);
  const before = await checksumTable(admin, dst, 't_local');
  const { request: checked, quiet } = inProcessRestore(b, dst);
  const request = { ...checked, skipChecksums: true };
  const abort = new AbortController();
  const started = Date.now();
  const restored = runRestore(request, { log: silentLogger(), quiescer: quiet, signal: abort.signal }).then(() => null, (err: unknown) => err);
  // Abort once the server is in the sleeping statement.
  for (let i = 0; i < 200; i++) {
    const [rows] = await admin.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE '%GET_LOCK(''sbt_restore_abort'',60)%' AND INFO NOT LIKE '%PROCESSLIST%'");
    if (Number(rows[0]?.n) > 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  abort.abort();
  const err = await restored;
  await admin.query("SELECT RELEASE_LOCK('sbt_restore_abort')");
  expect(err).toBeInstanceOf(InterruptedError);
  expect(Date.now() - started).toBeLessThan(30_000);
  expect(await checksumTable(admin, dst, 't_local')).toEqual(before);
  expect(await tablesOf(dst)).toEqual(['t_local']);
  expect(await leftoverStaging(dst)).toEqual([]);
}, 90_000);

test('restores from a gzip user-data snapshot', async () => {
  const b = await backup({ gzip: true });
  const raw = await fs.readFile(join(b.dir, 'user', 'latest', '.schema_backup', 'manifest.json'));
  const manifest = JSON.parse((raw[0] === 0x1f ? gunzipSync(raw) : raw).toString('utf8'));
  expect(manifest.compressed).toBe(true);
  const entry = manifest.tables.find((t: { table: string }) => t.table === 't_local');
  const latest = join(b.dir, 'user', 'latest', entry.file);
  expect((await fs.readFile(latest)).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
  const dst = newDatabaseName('restore_gzip');
  const r = restore(b, dst);
  expect(r.code).toBe(0);
  await expectSameData(dst);
});

test('--tables and --only local restore just those; a missing definer is reported, --definer current fixes it', async () => {
  const dst = newDatabaseName('restore_some');
  const r = restore(good, dst, ['--only', 'local']);
  expect(r.code).toBe(0);
  expect(await tablesOf(dst)).toEqual(['t_child', 't_local']);
  await expectSameData(dst, LOCAL);

  // A view whose definer does not exist here.
  const ghost = `sbt_ghost_${process.pid}`;
  await src.conn.query(`CREATE DEFINER=\`${ghost}\`@\`localhost\` VIEW v_ghost AS SELECT 1 AS one`);
  try {
    const b = await backup();
    const dst2 = newDatabaseName('restore_definer');
    const r2 = restore(b, dst2);
    expect(r2.code).toBe(0);
    expect(r2.stdout).toMatch(new RegExp(`view v_ghost: definer \`${ghost}\`@\`localhost\` does not exist`));
    await expect(admin.query(`SELECT * FROM ${quoteIdent(dst2)}.v_ghost`)).rejects.toThrow(/1449|does not exist/);
    const dst3 = newDatabaseName('restore_definer_cur');
    const r3 = restore(b, dst3, ['--definer', 'current']);
    expect(r3.code).toBe(0);
    expect(r3.stdout).not.toMatch(/does not exist/);
    expect(await query(`SELECT one FROM ${quoteIdent(dst3)}.v_ghost`)).toEqual([{ one: 1 }]);
  } finally {
    await src.conn.query('DROP VIEW v_ghost');
  }
});
