/**
 * Rows read in the binary protocol (a prepared statement, numbers as bytes,
 * written as text by native code) against the text protocol
 * (SCHEMA_BACKUP_PROTOCOL=text), on the shared server: the same bytes for
 * every type whose binary form differs from its text (integers of every size
 * and sign at their limits, ZEROFILL, YEAR, FLOAT and DOUBLE of every
 * magnitude, including random bit patterns, temporal values, MariaDB's own
 * types, an ENUM with a '' member, generated columns, a caller's expression),
 * and one prepared statement per read, closed once it ends.
 */
import { connect, type Db } from '../../src/db/connect';
import { describeTables } from '../../src/db/introspect';
import type { DbTableDetail } from '../../src/db/schema';
import { prepareSession } from '../../src/db/snapshot';
import { dumpRows } from '../../src/dump/rows';
import { nativeEncoder } from '../../src/dump/native-encoder';
import { createTestDatabase, testCredentials, type TestDatabase } from '../helpers/db';
import { withEnv } from '../helpers/env';
import { MemorySink } from '../helpers/memory-sink';
import { prng } from '../helpers/prng';

jest.setTimeout(120_000);

let source: TestDatabase;
let db: Db;
let tables: Map<string, DbTableDetail>;

/** Doubles whose text sits at each edge of the server's choice between 0.000ddd, ddd000 and d.ddde±N. */
function edgeDoubles(): number[] {
  const out: number[] = [0, 1, -1, 0.1, 1 / 3, 2 / 3, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 2.2250738585072014e-308, 123456789012345678];
  for (let e = -20; e <= 22; e++) {
    for (const m of [1, 1.5, 9.999999999999998, 1.2345678901234567, 7]) out.push(m * 10 ** e, -m * 10 ** e);
  }
  return out;
}

/** Random bit patterns of doubles (8 bytes) or floats (4), NaN and infinities left out: a server stores neither. */
function randomBits(count: number, seed: number, bytes: 4 | 8): number[] {
  const next = prng(seed);
  const view = new DataView(new ArrayBuffer(8));
  const out: number[] = [];
  while (out.length < count) {
    view.setUint32(0, Math.floor(next() * 2 ** 32));
    view.setUint32(4, Math.floor(next() * 2 ** 32));
    const x = bytes === 8 ? view.getFloat64(0) : view.getFloat32(0);
    if (Number.isFinite(x)) out.push(x);
  }
  return out;
}

beforeAll(async () => {
  source = await createTestDatabase('binary_protocol');
  const c = source.conn;
  await c.query("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', time_zone = '+00:00'");
  await c.query('CREATE TABLE t_double (id INT PRIMARY KEY, d DOUBLE, f FLOAT, d3 DOUBLE(12,3), dz DOUBLE ZEROFILL, fu FLOAT UNSIGNED, f3 FLOAT(9,3))');
  const doubles = [...edgeDoubles(), ...randomBits(6000, 7, 8)];
  const floats = randomBits(doubles.length, 11, 4);
  const rows = doubles.map((d, i) => [i + 1, d, floats[i], Math.abs(d) < 1e8 ? d : null, Math.abs(d), Math.abs(floats[i]), Math.abs(floats[i]) < 1e5 ? floats[i] : null]);
  for (let i = 0; i < rows.length; i += 1000) await c.query('INSERT INTO t_double VALUES ?', [rows.slice(i, i + 1000)]);
  await c.query(`CREATE TABLE t_ints (id INT PRIMARY KEY, ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, su SMALLINT UNSIGNED, mi MEDIUMINT, mu MEDIUMINT UNSIGNED,
    i INT, iu INT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED, iz INT(6) ZEROFILL, dz DECIMAL(8,2) ZEROFILL, dec65 DECIMAL(65,30), y YEAR, b BIT(10))`);
  await c.query(`INSERT INTO t_ints VALUES
    (1, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615, 42, 3.5, '-1.5', 1901, b'1111111111'),
    (2, 127, 0, 32767, 0, 8388607, 0, 2147483647, 0, 9223372036854775807, 0, 0, 0, 0, 0, b'0'),
    (3, 0, 1, -1, 1, -1, 1, -1, 1, -1, 1, 4294967295, 999999.99, '0.000000000000000000000000000001', 2155, b'101'),
    (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`);
  await c.query(`CREATE TABLE t_other (id INT PRIMARY KEY, dt DATETIME(3), ts TIMESTAMP(6) NULL DEFAULT NULL, tm TIME(2), d DATE, ip INET6, u UUID,
    e ENUM('', 'a', 'b'), j JSON, g POINT, v VARCHAR(20), gen BIGINT AS (id * 3) VIRTUAL)`);
  await c.query(`INSERT IGNORE INTO t_other (id, dt, ts, tm, d, ip, u, e, j, g, v) VALUES
    (1, '2024-02-29 12:34:56.789', '2038-01-19 03:14:07.999999', '-838:59:59.99', '0000-00-00', '::1', '123e4567-e89b-12d3-a456-426655440000', '', '{"a":1}', POINT(1.5, -2), 'x,y'),
    (2, '0000-00-00 00:00:00', '1970-01-01 00:00:01', '00:00:00.5', '9999-12-31', 'fe80::1:2', '00000000-0000-0000-0000-000000000000', 'zzz', '[]', NULL, ''),
    (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`);
  db = await connect(testCredentials(source.name));
  await prepareSession(db);
  tables = await describeTables(db);
}, 120_000);

afterAll(async () => {
  await db?.close();
  await source?.drop();
});

async function sessionStatus(name: string): Promise<number> {
  const rows = await db.queryArrays(`SHOW SESSION STATUS LIKE '${name}'`);
  return Number(rows[0][1]);
}

/** The table's rows as the dump writes them, in the given protocol; and the prepared statements it executed and closed. */
async function dump(name: string, protocol: 'binary' | 'text', columnExpressions?: ReadonlyMap<string, string>): Promise<{ bytes: Buffer; executed: number; closed: number }> {
  return withEnv({ SCHEMA_BACKUP_PROTOCOL: protocol === 'text' ? 'text' : undefined }, async () => {
    const executed = await sessionStatus('Com_stmt_execute');
    const closed = await sessionStatus('Com_stmt_close');
    const sink = new MemorySink();
    await dumpRows(db, tables.get(name) as DbTableDetail, sink, { columnExpressions });
    return { bytes: sink.bytes(), executed: (await sessionStatus('Com_stmt_execute')) - executed, closed: (await sessionStatus('Com_stmt_close')) - closed };
  });
}

test('the native encoder is built, so the binary protocol is what a run uses', () => {
  expect(nativeEncoder()).not.toBeNull();
});

test.each(['t_double', 't_ints', 't_other'])('%s: the binary protocol writes the text protocol\'s bytes', async (name) => {
  const binary = await dump(name, 'binary');
  const text = await dump(name, 'text');
  expect(text.executed).toBe(0);
  expect(binary.executed).toBe(1);
  // COM_STMT_CLOSE has no answer: it is counted once the server read it, before the next statement's answer.
  expect(binary.closed).toBe(1);
  expect(binary.bytes.length).toBeGreaterThan(0);
  // A first differing line, rather than two 300 KB buffers, when they differ.
  const b = binary.bytes.toString('utf8').split('),(');
  const t = text.bytes.toString('utf8').split('),(');
  const firstDiff = b.findIndex((row, i) => row !== t[i]);
  expect({ firstDiff, binary: b[firstDiff], text: t[firstDiff] }).toEqual({ firstDiff: -1, binary: undefined, text: undefined });
  expect(binary.bytes.equals(text.bytes)).toBe(true);
});

test('every double and float loads back from the file to the same bits', async () => {
  const bytes = (await dump('t_double', 'binary')).bytes.toString('utf8');
  await source.conn.query('CREATE TABLE t_double_back LIKE t_double');
  await source.conn.query(bytes.replace('INSERT INTO `t_double`', 'INSERT INTO `t_double_back`'));
  // The server compares the values themselves (mysql2 parses a DOUBLE's text inexactly, so not in JavaScript).
  const [[counts]] = (await source.conn.query(
    'SELECT COUNT(*) AS n, SUM(a.d <=> b.d AND a.f <=> b.f AND a.d3 <=> b.d3 AND a.dz <=> b.dz AND a.fu <=> b.fu AND a.f3 <=> b.f3) AS same FROM t_double a JOIN t_double_back b USING (id)',
  )) as unknown as [[{ n: number; same: string }]];
  const [[all]] = (await source.conn.query('SELECT COUNT(*) AS n FROM t_double')) as unknown as [[{ n: number }]];
  expect({ n: Number(counts.n), same: Number(counts.same) }).toEqual({ n: Number(all.n), same: Number(all.n) });
});

test("a caller's expression (the pause flag the run set) reads as its text in both protocols", async () => {
  const expressions = new Map([['tu', "'7'"], ['y', '1999']]);
  const binary = await dump('t_ints', 'binary', expressions);
  const text = await dump('t_ints', 'text', expressions);
  expect(binary.bytes.toString()).toContain('(1,-128,7,');
  expect(binary.bytes.equals(text.bytes)).toBe(true);
});

test('a result column the reader cannot decode (a DATETIME the table description took for a VARCHAR): a clear error naming it, the connection still answers', async () => {
  const real = tables.get('t_other') as DbTableDetail;
  const misdescribed: DbTableDetail = { ...real, columns: real.columns.map((c) => (c.name === 'dt' ? { ...c, dataType: 'varchar' } : c)) };
  const error = await dumpRows(db, misdescribed, new MemorySink()).then(
    () => null,
    (err: unknown) => err,
  );
  expect(String(error)).toMatch(/reading rows of table t_other: the server sent column dt \(protocol type 12\), which the binary protocol's reader does not decode; set SCHEMA_BACKUP_PROTOCOL=text/);
  expect((await dump('t_ints', 'binary')).executed).toBe(1);
});
