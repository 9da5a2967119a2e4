/**
 * No silent hang in the row reader (src/dump/rows.ts), which replaces a state
 * of mysql2's internal Query command: a mysql2 whose internals changed is a
 * clear DatabaseError naming the version needed, and a query that ends
 * without its end-of-rows packet reaching the reader fails its table, instead
 * of a dump that waits forever. mysql2 itself is pinned to the exact release.
 *
 * These doubles stand in for mysql2's Query command, so the reads here are in
 * the text protocol (SCHEMA_BACKUP_PROTOCOL=text); a prepared statement's
 * execution goes through the same row state (binary-protocol.test.ts, and the
 * fault tests that kill a connection mid-dump).
 */
import { MemorySink } from '../helpers/memory-sink';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type Db } from '../../src/db/connect';
import { describeTables } from '../../src/db/introspect';
import type { DbTableDetail } from '../../src/db/schema';
import { BlockChannel, ReadAhead, dumpRows, readTupleBlocks } from '../../src/dump/rows';
import { MYSQL2_VERSION } from '../../src/db/mysql2-internals';
import { DatabaseError } from '../../src/errors';
import { createTestDatabase, testCredentials, type TestDatabase } from '../helpers/db';

jest.setTimeout(60_000);


/** A dump that has not settled within `ms` is reported as hung (the failure this file guards against). */
function settleWithin<T>(p: Promise<T>, ms = 5000): Promise<{ value?: T; error?: unknown; hung?: true }> {
  return Promise.race([
    p.then((value) => ({ value }), (error: unknown) => ({ error })),
    new Promise<{ hung: true }>((resolve) => setTimeout(() => resolve({ hung: true }), ms).unref()),
  ]);
}

const ROOT = join(__dirname, '..', '..');

let tdb: TestDatabase;
let db: Db;
let table: DbTableDetail;

const protocolBefore = process.env.SCHEMA_BACKUP_PROTOCOL;
beforeAll(async () => {
  process.env.SCHEMA_BACKUP_PROTOCOL = 'text';
  tdb = await createTestDatabase('rowreader');
  await tdb.conn.query("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three')");
  db = await connect(testCredentials(tdb.name));
  table = (await describeTables(db)).get('t') as DbTableDetail;
});
afterAll(async () => {
  if (protocolBefore === undefined) delete process.env.SCHEMA_BACKUP_PROTOCOL;
  else process.env.SCHEMA_BACKUP_PROTOCOL = protocolBefore;
  await db?.close();
  await tdb?.drop();
});

test('mysql2 is pinned to the exact release the row reader was written against, and that one is installed', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; dependencies?: Record<string, string> }> };
  expect(pkg.dependencies.mysql2).toBe(MYSQL2_VERSION);
  expect(lock.packages['']?.dependencies?.mysql2).toBe(MYSQL2_VERSION);
  expect(lock.packages['node_modules/mysql2']?.version).toBe(MYSQL2_VERSION);
  expect((require('mysql2/package.json') as { version: string }).version).toBe(MYSQL2_VERSION);
});

test('the real reader still reads every row (the internals it checks are there)', async () => {
  const sink = new MemorySink();
  const r = await settleWithin(dumpRows(db, table, sink));
  expect(r.value).toMatchObject({ rows: 3, statements: 1 });
  expect(sink.text()).toContain("(3,'three')");
});

test('a query whose end-of-rows packet never reaches the reader fails the table (a real connection, its row state not taken)', async () => {
  // What a mysql2 that renamed its row state looks like: our assignment to `row` has no effect, mysql2 reads the rows itself.
  const realQuery = db.raw.query.bind(db.raw) as (...args: unknown[]) => unknown;
  const wrapped = Object.create(db) as Db;
  Object.defineProperty(wrapped, 'raw', {
    value: new Proxy(db.raw, {
      get(target, prop, receiver) {
        if (prop !== 'query') return Reflect.get(target, prop, receiver);
        return (...args: unknown[]) => {
          const q = realQuery(...args) as object;
          Object.defineProperty(q, 'row', { get: () => Object.getPrototypeOf(q).row, set: () => undefined, configurable: true });
          return q;
        };
      },
    }),
  });
  const r = await settleWithin(dumpRows(wrapped, table, new MemorySink()));
  expect(r.hung).toBeUndefined();
  expect(r.error).toBeInstanceOf(DatabaseError);
  expect(String((r.error as Error).message)).toMatch(/table t: the query ended without its end-of-rows packet .*needs exactly mysql2 3\.24\.6/);
  // The connection is still in step: the next dump works.
  expect((await settleWithin(dumpRows(db, table, new MemorySink()))).value).toMatchObject({ rows: 3 });
});

/** A Db whose connection hands out `query` for the next query: mysql2 with other internals. */
function dbWithQuery(query: EventEmitter): Db {
  return { raw: { query: () => query, pause: () => undefined, resume: () => undefined } } as unknown as Db;
}

test('a Query command without the row state: a DatabaseError at once, naming the version needed', async () => {
  class NoRowState extends EventEmitter {
    done(): null {
      return null;
    }
  }
  const db = dbWithQuery(new NoRowState());
  const channel = new BlockChannel(new ReadAhead(db));
  readTupleBlocks(db, { table, maxTupleBytes: 1 << 20 }, channel);
  const r = await settleWithin(channel.next(), 1000);
  expect(r.error).toBeInstanceOf(DatabaseError);
  expect((r.error as Error).message).toMatch(/^mysql2 \S+ changed its internals \(its Query command has no row state\); schema_backup needs exactly mysql2 3\.24\.6/);
});

test('row packets without buffer/offset/end/isEOF: a DatabaseError, and mysql2 gets the packets back', async () => {
  const seen: unknown[] = [];
  class OtherPackets extends EventEmitter {
    row(packet: unknown): unknown {
      seen.push(packet);
      return null;
    }
    done(): null {
      return null;
    }
  }
  const query = new OtherPackets() as OtherPackets & { row(packet: unknown, connection: unknown): unknown };
  const db = dbWithQuery(query);
  const channel = new BlockChannel(new ReadAhead(db));
  readTupleBlocks(db, { table, maxTupleBytes: 1 << 20 }, channel);
  const packet = { payload: Buffer.from('x') };
  query.row(packet, null);
  const r = await settleWithin(channel.next(), 1000);
  expect(r.error).toBeInstanceOf(DatabaseError);
  expect((r.error as Error).message).toMatch(/changed its internals \(its row packets have no buffer, offset, end or isEOF\(\)\); schema_backup needs exactly mysql2 3\.24\.6/);
  expect(seen).toEqual([packet]);
});

test('read-ahead is bounded per connection, across the key ranges queued on it', async () => {
  const calls: string[] = [];
  const db = { raw: { pause: () => calls.push('pause'), resume: () => calls.push('resume') } } as unknown as Db;
  const readAhead = new ReadAhead(db, 4);
  // Ranges smaller than a block: each channel holds two, the connection four.
  const ranges = [new BlockChannel(readAhead), new BlockChannel(readAhead), new BlockChannel(readAhead)];
  const block = () => ({ data: Buffer.from('(1),'), lengths: [3] });
  for (const channel of ranges.slice(0, 2)) {
    channel.put(block());
    channel.put(block());
    channel.finish();
  }
  expect(calls).toEqual(['pause']);
  await ranges[0].next();
  expect(calls).toEqual(['pause', 'resume']);
  // A writer that gives up lets the reader drain its result: no pause again.
  // The block that comes with the end of a result never pauses (mysql2 would lose the next query's start):
  // the pause is owed, and taken at the next query's first row while the connection is still over its limit.
  ranges[1].put(block(), false);
  expect(calls).toEqual(['pause', 'resume']);
  ranges[2].pauseIfOwed();
  expect(calls).toEqual(['pause', 'resume', 'pause']);
  await ranges[1].next();
  expect(calls).toEqual(['pause', 'resume', 'pause', 'resume']);
  ranges[2].put(block());
  expect(calls).toEqual(['pause', 'resume', 'pause', 'resume', 'pause']);
  ranges[2].abandon(new Error('stopped'));
  ranges[2].put(block());
  ranges[2].put(block());
  expect(calls).toEqual(['pause', 'resume', 'pause', 'resume', 'pause', 'resume']);
});
