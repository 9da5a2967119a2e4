/**
 * The run's check of the database hands its connection to the snapshot (src/db/snapshot.ts `spare`, used by
 * src/backup/run.ts): one connection less per run. A spare the server has closed meanwhile (its wait_timeout
 * passed while consumers stopped) is replaced by a new connection, and the snapshot reads as before.
 */
import { openSession, openSnapshot } from '../../src/db/snapshot';
import { createTestDatabase, testCredentials, type TestDatabase } from '../helpers/db';

let tdb: TestDatabase;

beforeAll(async () => {
  tdb = await createTestDatabase('snapshot_spare');
  await tdb.conn.query('CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO t VALUES (1, "a"), (2, "b")');
});
afterAll(async () => {
  await tdb.drop();
});

async function connectionId(db: { queryArrays(sql: string): Promise<(string | null)[][]> }): Promise<string> {
  return String((await db.queryArrays('SELECT CONNECTION_ID()'))[0][0]);
}

test('a spare that answers is the first reader: same connection, in the snapshot, session settings kept', async () => {
  const creds = testCredentials(tdb.name);
  const spare = await openSession(creds, { batches: true });
  const id = await connectionId(spare);
  const snap = await openSnapshot(creds, { spare, readers: 1 });
  try {
    expect(snap.db).toBe(spare);
    expect(await connectionId(snap.db)).toBe(id);
    // In the snapshot: a row written now is not seen.
    await tdb.conn.query('INSERT INTO t VALUES (3, "c")');
    expect(await snap.db.queryArrays('SELECT COUNT(*) FROM t')).toEqual([['2']]);
    expect(await snap.db.queryArrays('SELECT @@session.time_zone, @@session.sql_mode, @@session.net_write_timeout')).toEqual([['+00:00', '', '3600']]);
  } finally {
    await snap.close();
    await tdb.conn.query('DELETE FROM t WHERE id = 3');
  }
});

test('a spare the server has closed: a new connection takes its place and the snapshot reads', async () => {
  const creds = testCredentials(tdb.name);
  const spare = await openSession(creds, { batches: true });
  const id = await connectionId(spare);
  await tdb.conn.query(`KILL ${id}`);
  const snap = await openSnapshot(creds, { spare, readers: 1 });
  try {
    expect(snap.db).not.toBe(spare);
    expect(await connectionId(snap.db)).not.toBe(id);
    expect(await snap.db.queryArrays('SELECT COUNT(*) FROM t')).toEqual([['2']]);
  } finally {
    await snap.close();
  }
});

test('with parallel readers the spare is the first of them, and all share the snapshot', async () => {
  const creds = testCredentials(tdb.name);
  const spare = await openSession(creds, { batches: true });
  const snap = await openSnapshot(creds, { spare, readers: 2 });
  try {
    expect(snap.readers[0]).toBe(spare);
    expect(snap.readers).toHaveLength(2);
    await tdb.conn.query('INSERT INTO t VALUES (3, "c")');
    for (const reader of snap.readers) expect(await reader.queryArrays('SELECT COUNT(*) FROM t')).toEqual([['2']]);
  } finally {
    await snap.close();
    await tdb.conn.query('DELETE FROM t WHERE id = 3');
  }
});
