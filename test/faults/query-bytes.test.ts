/**
 * Statements sent as bytes (src/db/query-bytes.ts), which replaces the start
 * state of mysql2's internal Query command: against a real server, the bytes
 * arrive exactly, errors come back as errors and leave the connection usable,
 * one packet buffer serves query after query; a mysql2 without those
 * internals is a clear DatabaseError naming the version needed.
 */
import { dirname, join } from 'node:path';
import mysql from 'mysql2';
import { connect, type Db } from '../../src/db/connect';
import { QUERY_HEAD, frameQuery, queryBytes, queryPacketBuffer } from '../../src/db/query-bytes';
import { DatabaseError } from '../../src/errors';
import { createTestDatabase, testCredentials, type TestDatabase } from '../helpers/db';

let tdb: TestDatabase;
let db: Db;

/** `sql` written into `packet` (grown if needed) and run; the packet used, for reuse. */
async function run(sql: string | Buffer, packet = queryPacketBuffer(0)): Promise<{ result: unknown; packet: Buffer }> {
  const bytes = typeof sql === 'string' ? Buffer.from(sql, 'utf8') : sql;
  const p = queryPacketBuffer(bytes.length, packet);
  bytes.copy(p, QUERY_HEAD);
  return { result: await queryBytes(db.raw, p, bytes.length), packet: p };
}

beforeAll(async () => {
  tdb = await createTestDatabase('query_bytes');
  await tdb.conn.query('CREATE TABLE t (id INT PRIMARY KEY, v MEDIUMTEXT CHARACTER SET utf8mb4, b BLOB)');
  db = await connect(testCredentials(tdb.name), { byteStrings: true });
  await db.query('SET NAMES utf8mb4');
});
afterAll(async () => {
  await db?.close();
  await tdb?.drop();
});

test('the bytes reach the server exactly: multi-byte text, every byte value in a hex literal, and affected rows come back', async () => {
  const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const stmt = Buffer.concat([Buffer.from("INSERT INTO t VALUES (1,'ü€😀 \\' ;',X'", 'utf8'), Buffer.from(every.toString('hex')), Buffer.from("'),(2,'two',NULL)")]);
  const { result } = await run(stmt);
  expect((result as { affectedRows: number }).affectedRows).toBe(2);
  const [row] = await tdb.conn.query('SELECT HEX(v) AS v, HEX(b) AS b FROM t WHERE id = 1');
  expect(row).toEqual([{ v: Buffer.from("ü€😀 ' ;", 'utf8').toString('hex').toUpperCase(), b: every.toString('hex').toUpperCase() }]);
});

test('one packet buffer serves statements of every size in turn; a longer one grows it', async () => {
  let packet = queryPacketBuffer(0);
  const first = packet;
  for (let i = 0; i < 20; i++) packet = (await run(`INSERT INTO t VALUES (${100 + i},'${'x'.repeat(i * 100)}',NULL)`, packet)).packet;
  expect(packet).toBe(first);
  const long = `INSERT INTO t VALUES (500,'${'y'.repeat(200_000)}',NULL)`;
  packet = (await run(long, packet)).packet;
  expect(packet).not.toBe(first);
  expect(packet.length).toBeGreaterThanOrEqual(QUERY_HEAD + long.length);
  const [rows] = await tdb.conn.query('SELECT COUNT(*) AS n, SUM(LENGTH(v)) AS len FROM t WHERE id >= 100');
  expect(rows).toEqual([{ n: 21, len: String(Array.from({ length: 20 }, (_, i) => i * 100).reduce((a, b) => a + b, 0) + 200_000) }]);
});

test('a statement the server refuses rejects with its error, and the connection goes on', async () => {
  await expect(run('INSERT INTO t VALUES (1,NULL,NULL)')).rejects.toMatchObject({ code: 'ER_DUP_ENTRY' });
  await expect(run('THIS IS NOT SQL')).rejects.toMatchObject({ code: 'ER_PARSE_ERROR' });
  const { result } = await run("SELECT 'still here' AS s");
  expect(result).toEqual([{ s: 'still here' }]);
});

test('a Query command without the state it replaces: a DatabaseError at once, naming the version needed', async () => {
  const createQuery = (mysql as unknown as { createQuery(sql: string, values: undefined, cb: () => void, config: unknown): object }).createQuery;
  const proto = Object.getPrototypeOf(createQuery('SELECT 1', undefined, () => undefined, {})) as { resultsetHeader?: unknown };
  const saved = proto.resultsetHeader;
  delete proto.resultsetHeader;
  try {
    const err = await run('SELECT 1').then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseError);
    expect((err as Error).message).toMatch(/^mysql2 \S+ changed its internals \(its Query command has no start, resultsetHeader or _setTimeout\); schema_backup needs exactly mysql2 3\.24\.6/);
  } finally {
    proto.resultsetHeader = saved;
  }
  // Nothing was sent: the connection is in step.
  expect((await run("SELECT 'ok' AS s")).result).toEqual([{ s: 'ok' }]);
});

test('a packet too small for the length given is refused at once (a short packet would leave the server waiting)', async () => {
  const packet = queryPacketBuffer(10);
  await expect(queryBytes(db.raw, packet, packet.length)).rejects.toThrow(/cannot hold a statement/);
  expect((await run("SELECT 'ok' AS s")).result).toEqual([{ s: 'ok' }]);
});

test("the packet is byte for byte the one mysql2 writes for the same statement, with and without query attributes", () => {
  // mysql2's own Query packet (internal, as the module it stands in for): header room, command, [attributes], text.
  // Not in mysql2's exports: reached by its path inside the installed package.
  const MysqlQueryPacket = require(join(dirname(require.resolve('mysql2')), 'lib', 'packets', 'query.js')) as new (sql: string, charset: number, attributes: unknown, flags: number) => { toPacket(): { buffer: Buffer } };
  const sql = "INSERT INTO t VALUES (1,'ü€ ; \\'')";
  const bytes = Buffer.from(sql, 'utf8');
  for (const withAttributes of [false, true]) {
    const packet = queryPacketBuffer(bytes.length);
    bytes.copy(packet, QUERY_HEAD);
    const ours = frameQuery(packet, bytes.length, withAttributes);
    const theirs = new MysqlQueryPacket(sql, 224 /* utf8mb4_unicode_ci */, {}, withAttributes ? 0x08000000 : 0).toPacket().buffer;
    expect({ withAttributes, body: ours.subarray(4).toString('hex') }).toEqual({ withAttributes, body: theirs.subarray(4).toString('hex') });
  }
});
