/**
 * The round trip: every written file loads into an empty database with the
 * stock `mariadb` client and gives back the same CHECKSUM TABLE and row count,
 * for a table of every type schema_backup supports.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { checksumTable, createTestDatabase, mariadbClient, rowCount, type TestDatabase } from '../helpers/db';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';
import { runCli, writeConfig } from '../helpers/backup';

const HOST = 'roundtrip-host';
let source: TestDatabase;
let target: TestDatabase;
let work: string;
let config: string;

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

const TABLES: Record<string, string> = {
  t_numbers: `CREATE TABLE t_numbers (id INT PRIMARY KEY, ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, mi MEDIUMINT, bi BIGINT, bu BIGINT UNSIGNED,
      d DECIMAL(65,30), d0 DECIMAL(10,0), f FLOAT, db DOUBLE, b1 BIT(1), b64 BIT(64), y YEAR)`,
  t_strings: `CREATE TABLE t_strings (id INT PRIMARY KEY, c CHAR(10), v VARCHAR(200), t TEXT, lt LONGTEXT, e ENUM('a','b','c d'), s SET('x','y','z'), j JSON) CHARSET utf8mb4`,
  t_latin1: `CREATE TABLE t_latin1 (id INT PRIMARY KEY, v VARCHAR(50), t TEXT) CHARSET latin1`,
  t_binary: `CREATE TABLE t_binary (id INT PRIMARY KEY, bn BINARY(4), vb VARBINARY(300), bl BLOB, lb LONGBLOB)`,
  t_time: `CREATE TABLE t_time (id INT PRIMARY KEY, d DATE, dt DATETIME, dt6 DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, tm TIME, tm6 TIME(6))`,
  t_generated: `CREATE TABLE t_generated (id INT PRIMARY KEY, a INT, v INT AS (a * 2) VIRTUAL, s VARCHAR(20) AS (CONCAT('s', a)) STORED)`,
  t_spatial: `CREATE TABLE t_spatial (id INT PRIMARY KEY, p POINT, g GEOMETRY, l LINESTRING)`,
  t_nokey: `CREATE TABLE t_nokey (a INT, b VARCHAR(10))`,
  t_myisam: `CREATE TABLE t_myisam (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=MyISAM`,
  'weird `name`': 'CREATE TABLE `weird ``name``` (id INT PRIMARY KEY, v VARCHAR(10))',
  'select': 'CREATE TABLE `select` (`order` INT PRIMARY KEY, `from` VARCHAR(10))',
  'ünïcødé 表': 'CREATE TABLE `ünïcødé 表` (id INT PRIMARY KEY, v VARCHAR(10))',
};

async function fill(db: TestDatabase): Promise<void> {
  const c = db.conn;
  await c.query("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', time_zone = '+00:00'");
  for (const ddl of Object.values(TABLES)) await c.query(ddl);
  await c.query(`INSERT INTO t_numbers VALUES
    (1, -128, 255, -32768, -8388608, -9223372036854775808, 18446744073709551615, '-99999999999999999999999999999999999.999999999999999999999999999999', 0,
     3.40282e38, 1.7976931348623157e308, b'1', b'1111111111111111111111111111111111111111111111111111111111111111', 1901),
    (2, 127, 0, 32767, 8388607, 9223372036854775807, 0, '0.000000000000000000000000000001', -1, 1.17549435e-38, 2.2250738585072014e-308, b'0', b'0', 2155),
    (3, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0.1, 0.1, NULL, NULL, 0),
    (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 16777217, 4.9e-324, NULL, b'101', NULL),
    (5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, -3.3333333, 1/3e0, NULL, NULL, NULL)`);
  await c.query(
    'INSERT INTO t_strings VALUES (1, ?, ?, ?, ?, ?, ?, ?), (2, NULL, ?, ?, NULL, NULL, ?, NULL), (3, ?, ?, ?, ?, ?, ?, ?)',
    [
      'NULL', "it's \"quoted\" \\ back", 'line1\nline2\r\n\ttab \0 nul \x1a ctrl-z', 'x'.repeat(100000), 'c d', 'x,z', '{"k": [1, "two", null], "e": "😀"}',
      'NULL', '', '',
      '😀🎉', '日本語テキスト', 'emoji 🧪 and ; semicolons; -- comment /* c */', "'); DROP TABLE t_strings; --", 'a', '', '[]',
    ],
  );
  await c.query('INSERT INTO t_latin1 VALUES (1, ?, ?), (2, NULL, ?)', ['café ÿ £ ±', 'Ærøskøbing ¿¡', 'NULL']);
  await c.query('INSERT INTO t_binary VALUES (1, ?, ?, ?, ?), (2, ?, ?, ?, NULL), (3, NULL, NULL, NULL, NULL)', [
    Buffer.from([0, 39, 92, 255]), ALL_BYTES, ALL_BYTES, Buffer.concat([ALL_BYTES, ALL_BYTES.reverse()]),
    Buffer.from([0, 0, 0, 0]), Buffer.alloc(0), Buffer.from("'\\\0", 'binary'),
  ]);
  await c.query(`INSERT INTO t_time VALUES
    (1, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00.000000', '1970-01-01 00:00:01.000000', '-838:59:59', '838:59:59.000000'),
    (2, '9999-12-31', '9999-12-31 23:59:59', '2024-02-29 12:34:56.789012', '2038-01-19 03:14:07.999999', '00:00:00', '-00:00:00.000001'),
    (3, '1000-01-01', NULL, NULL, NULL, NULL, NULL), (4, '2024-00-00', '2024-01-00 00:00:00', NULL, NULL, '-12:00:00', NULL)`);
  await c.query('INSERT INTO t_generated (id, a) VALUES (1, 1), (2, NULL), (3, -7)');
  await c.query(`INSERT INTO t_spatial VALUES (1, ST_GeomFromText('POINT(1.5 -2.25)'), ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))'), ST_GeomFromText('LINESTRING(0 0,1 1,2 0)')),
    (2, ST_GeomFromText('POINT(0 0)', 4326), NULL, NULL), (3, NULL, NULL, NULL)`);
  await c.query("INSERT INTO t_nokey VALUES (2, 'b'), (1, 'a'), (1, 'a'), (NULL, NULL)");
  await c.query("INSERT INTO t_myisam VALUES (1, 'm1'), (2, 'm2')");
  await c.query("INSERT INTO `weird ``name``` VALUES (1, 'w')");
  await c.query("INSERT INTO `select` VALUES (1, 'from')");
  await c.query("INSERT INTO `ünïcødé 表` VALUES (1, 'ü')");
}

const GLOBAL = ['t_numbers', 't_strings', 't_latin1', 't_generated', 't_nokey', 't_myisam', 'select', 'ünïcødé 表'];
const LOCAL = ['t_binary', 't_time', 't_spatial'];

beforeAll(async () => {
  source = await createTestDatabase('roundtrip_src');
  target = await createTestDatabase('roundtrip_dst');
  work = tempDir('roundtrip-');
  await fill(source);
  config = writeConfig(work, {
    csv2BackupDir: join(work, 'git'),
    userDataBackupDir: join(work, 'user'),
    stateDir: join(work, 'state'),
    credentialsFile: source.credentialsFile,
    global: GLOBAL,
    local: LOCAL,
  });
  const result = await runCli(['--config', config, '--host-name', HOST, '--online']);
  expect(result.stderr).not.toMatch(/error/i);
  expect(result.code).toBe(0);
}, 120000);

afterAll(async () => {
  await source?.drop();
  await target?.drop();
  cleanupTempDirs();
});

test('every table file loads with the stock mariadb client and reproduces the table exactly', async () => {
  const hostDir = join(work, 'git', HOST);
  const files = (await fs.readdir(hostDir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
  // One structure file per table; the unclassified weird name is included (structure only).
  expect(files.sort()).toEqual(['select', 't_binary', 't_generated', 't_latin1', 't_myisam', 't_nokey', 't_numbers', 't_spatial', 't_strings', 't_time', 'weird `name`', 'ünïcødé 表'].sort());
  for (const file of files) await mariadbClient([], { database: target.name, inputFile: join(hostDir, file) });
  // Local rows come from the user-data snapshot (loaded after the structure-only host files).
  for (const table of LOCAL) await mariadbClient([], { database: target.name, inputFile: join(work, 'user', 'latest', table) });

  for (const table of [...GLOBAL, ...LOCAL]) {
    const expected = await checksumTable(source.conn, source.name, table);
    expect({ table, checksum: await checksumTable(target.conn, target.name, table) }).toEqual({ table, checksum: expected });
    expect({ table, rows: await rowCount(target.conn, target.name, table) }).toEqual({ table, rows: await rowCount(source.conn, source.name, table) });
    expect(expected).not.toBeNull();
  }
  // The unclassified table came back as structure only.
  expect(await rowCount(target.conn, target.name, 'weird `name`')).toBe(0);
}, 120000);

test('values that mariadb-dump gets wrong survive: FLOAT beyond 6 digits, NULL vs the string NULL', async () => {
  const [floats] = await target.conn.query('SELECT id, f = (SELECT f FROM ' + source.name + '.t_numbers s WHERE s.id = t.id) AS same FROM t_numbers t ORDER BY id');
  expect((floats as { same: number | null }[]).map((r) => r.same)).toEqual([1, 1, 1, 1, 1]);
  const [strings] = await target.conn.query('SELECT c, c IS NULL AS isnull FROM t_strings ORDER BY id');
  expect(strings).toEqual([
    { c: 'NULL', isnull: 0 },
    { c: null, isnull: 1 },
    { c: '😀🎉', isnull: 0 },
  ]);
});

test('the files hold nothing volatile and read like mysqldump', async () => {
  const text = await fs.readFile(join(work, 'git', HOST, 't_numbers'), 'utf8');
  expect(text).toMatch(/^DROP TABLE IF EXISTS `t_numbers`;$/m);
  expect(text).toMatch(/SET NAMES utf8mb4/);
  expect(text).toMatch(/FOREIGN_KEY_CHECKS=0/);
  expect(text).not.toMatch(/Dump completed|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?!\.)/);
  // Structure-only files carry no AUTO_INCREMENT counter.
  await source.conn.query('CREATE TABLE counter_probe (id INT AUTO_INCREMENT PRIMARY KEY)');
  const lines = (await fs.readFile(join(work, 'git', HOST, 't_binary'), 'utf8')).split('\n');
  expect(lines.some((l) => l.startsWith('INSERT'))).toBe(false);
  // Rows are ordered by primary key, all in one INSERT on one line (the layout db_upgrade reads).
  const inserts = text.split('\n').filter((l) => l.startsWith('INSERT'));
  expect(inserts).toHaveLength(1);
  expect(inserts[0]).toMatch(/^INSERT INTO `t_numbers` VALUES \(1,.*\);$/);
  const rows = inserts[0].split('),(').map((r) => Number(/^(?:INSERT INTO `t_numbers` VALUES \()?(\d+),/.exec(r)?.[1]));
  expect(rows).toEqual([1, 2, 3, 4, 5]);
});

test('the JavaScript encoder (SCHEMA_BACKUP_ENCODER=js, or no compiler at install) writes the same files as the native one', async () => {
  const hostDir = join(work, 'git', HOST);
  const latest = join(work, 'user', 'latest');
  const read = async () => {
    const files = new Map<string, Buffer>();
    for (const dir of [hostDir, latest]) {
      for (const e of await fs.readdir(dir, { withFileTypes: true })) if (e.isFile()) files.set(join(dir, e.name), await fs.readFile(join(dir, e.name)));
    }
    return files;
  };
  const native = await read();
  // The binary as shipped (the bundle) finds the native encoder; the variable switches it off.
  const shipped = await runCli(['--config', config, '--host-name', HOST, '--online', '--log-level', 'debug']);
  expect(shipped.stderr).toMatch(/row encoder encoder=native/);
  const result = await runCli(['--config', config, '--host-name', HOST, '--online'], { env: { SCHEMA_BACKUP_ENCODER: 'js' } });
  expect(result.code).toBe(0);
  expect(result.stderr).toMatch(/rows are encoded in JavaScript.*encoder=javascript why=SCHEMA_BACKUP_ENCODER=js/);
  // The user-data rows came out the same: the run found nothing new to keep.
  expect(result.stdout).toMatch(/user data: no new snapshot/);
  const js = await read();
  // Every file of the native run is there, byte for byte (tables added by earlier tests since come on top).
  for (const [file, bytes] of native) expect({ file, same: js.get(file)?.equals(bytes) }).toEqual({ file, same: true });
});
