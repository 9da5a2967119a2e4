/**
 * Structures read many statements to a query (connect.ts `batches`): the same
 * text as one statement at a time, in the order asked, across batch limits,
 * with a sequence, hostile names, triggers and views; an error names its
 * table and leaves the connection usable. And the point of it: a site's
 * SHOW CREATE statements cost one round trip, not one each.
 */
import type { Connection } from 'mysql2';
import { connect, type Db } from '../../src/db/connect';
import { listTriggers, listViews, showCreateTable, showCreateTables } from '../../src/db/introspect';
import { openSnapshot } from '../../src/db/snapshot';
import { DatabaseError } from '../../src/errors';
import { createTestDatabase, testCredentials, type TestDatabase } from '../helpers/db';

jest.setTimeout(60_000);

const TABLES = Array.from({ length: 40 }, (_, i) => `t_${String(i).padStart(2, '0')}`);
/** Names a batch must keep whole: a backtick, a statement separator, a quote, a space. */
const HOSTILE = ['we`ird', 'semi;colon', "quo'te", 'two words'];
const SEQUENCE = 'seq_ids';
const quote = (name: string) => '`' + name.replace(/`/g, '``') + '`';

let db: TestDatabase;
let batched: Db;
let single: Db;

/** Counts the queries a connection sends (each is one round trip). */
function countQueries(conn: Connection): { readonly count: number; stop(): void } {
  const target = conn as unknown as { query: (...args: unknown[]) => unknown };
  const original = target.query;
  const counter = { count: 0, stop: () => (target.query = original) };
  target.query = function (this: unknown, ...args: unknown[]) {
    counter.count++;
    return original.apply(this, args);
  };
  return counter;
}

beforeAll(async () => {
  db = await createTestDatabase('structure_batches');
  const statements = [...TABLES, ...HOSTILE].map((t, i) => `CREATE TABLE ${quote(t)} (id INT PRIMARY KEY, c${i} VARCHAR(${10 + i}) DEFAULT 'x;y') ENGINE=InnoDB`);
  await db.conn.query(statements.join(';'));
  await db.conn.query(`CREATE SEQUENCE ${SEQUENCE} START WITH 100 INCREMENT BY 7 CACHE 5`);
  await db.conn.query(`CREATE TRIGGER ${quote('trg;one')} BEFORE INSERT ON t_00 FOR EACH ROW SET NEW.c0 = UPPER(NEW.c0)`);
  await db.conn.query(`CREATE TRIGGER trg_two BEFORE UPDATE ON ${quote('semi;colon')} FOR EACH ROW SET NEW.id = NEW.id`);
  await db.conn.query(`CREATE VIEW ${quote('v;1')} AS SELECT id FROM t_01`);
  await db.conn.query('CREATE VIEW v_2 AS SELECT id FROM t_02');
  batched = await connect(testCredentials(db.name), { batches: true });
  single = await connect(testCredentials(db.name));
});

afterAll(async () => {
  await batched?.close();
  await single?.close();
  await db?.drop();
});

test('SHOW CREATE of every table in one round trip, the same text as one at a time (a sequence as CREATE SEQUENCE)', async () => {
  const names = [...TABLES, ...HOSTILE, SEQUENCE];
  const queries = countQueries(batched.raw);
  let creates: Map<string, string>;
  try {
    creates = await showCreateTables(batched, names);
  } finally {
    queries.stop();
  }
  // One for the tables, one for the sequence's own definition.
  expect(queries.count).toBe(2);
  expect([...creates.keys()]).toEqual(names);
  for (const name of names) expect({ name, create: creates.get(name) }).toEqual({ name, create: await showCreateTable(single, name) });
  expect(creates.get(SEQUENCE)).toMatch(/^CREATE SEQUENCE `seq_ids` start with 100 minvalue 1 maxvalue \d+ increment by 7 cache 5/);
  expect(creates.get('semi;colon')).toContain("DEFAULT 'x;y'");
});

test("the snapshot's first connection takes many statements to a query", async () => {
  const snap = await openSnapshot(testCredentials(db.name));
  try {
    const queries = countQueries(snap.db.raw);
    try {
      expect((await showCreateTables(snap.db, TABLES)).size).toBe(TABLES.length);
    } finally {
      queries.stop();
    }
    expect(queries.count).toBe(1);
  } finally {
    await snap.close();
  }
});

test('without batches the same statements go one at a time, with the same results', async () => {
  const queries = countQueries(single.raw);
  try {
    expect(await showCreateTables(single, TABLES)).toEqual(await showCreateTables(batched, TABLES));
  } finally {
    queries.stop();
  }
  expect(queries.count).toBe(TABLES.length);
});

test('triggers and views are read in one round trip each', async () => {
  const queries = countQueries(batched.raw);
  let triggers: Awaited<ReturnType<typeof listTriggers>>;
  let views: Awaited<ReturnType<typeof listViews>>;
  try {
    triggers = await listTriggers(batched);
    views = await listViews(batched);
  } finally {
    queries.stop();
  }
  // The list from information_schema, then every definition.
  expect(queries.count).toBe(4);
  expect(triggers).toEqual(await listTriggers(single));
  expect(triggers.map((t) => [t.name, t.table])).toEqual([
    ['trg_two', 'semi;colon'],
    ['trg;one', 't_00'],
  ]);
  expect(triggers[1].createStatement).toContain('SET NEW.c0 = UPPER(NEW.c0)');
  expect(views).toEqual(await listViews(single));
  expect(views.map((v) => v.name)).toEqual(['v;1', 'v_2']);
});

test('statements beyond one batch come back whole and in order', async () => {
  const run = async (statements: string[]) => {
    const queries = countQueries(batched.raw);
    try {
      const results = await batched.queryArraysEach(statements);
      expect(results.map((rows) => rows.map((r) => r.map(String)))).toEqual(statements.map((_, i) => [[String(i), 'a'.repeat(i % 7)]]));
    } finally {
      queries.stop();
    }
    return queries.count;
  };
  const select = (i: number, padding: number) => `SELECT ${i} AS n, REPEAT('a', ${i % 7}) AS pad /* ${'x'.repeat(padding)} */`;
  // More statements than one query takes (200): cut by count.
  expect(await run(Array.from({ length: 450 }, (_, i) => select(i, 10)))).toBe(3);
  // Longer text than one query takes (64 KiB): cut by length, about 140 statements of about 465 characters to a query.
  expect(await run(Array.from({ length: 450 }, (_, i) => select(i, 420)))).toBe(4);
  expect(await batched.queryArraysEach(["SELECT 'seven'"])).toEqual([[['seven']]]);
  expect(await batched.queryArraysEach([])).toEqual([]);
});

test('a table gone from the batch fails with the server naming it; the connection answers after', async () => {
  const names = ['t_03', 'no_such_table', 't_04'];
  const err = await showCreateTables(batched, names).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DatabaseError);
  expect((err as Error).message).toMatch(/no_such_table.* doesn't exist/);
  expect(await batched.queryArrays("SELECT 'answers'")).toEqual([['answers']]);
  expect((await showCreateTables(batched, ['t_05'])).get('t_05')).toContain('CREATE TABLE `t_05`');
});
