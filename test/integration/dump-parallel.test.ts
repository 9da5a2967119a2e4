/**
 * The fast row path against the reference (the server renders each tuple,
 * row-at-a-time statements), on a table of hostile values: one connection
 * and key ranges over three connections give the same bytes, and the three
 * connections read one snapshot.
 *
 * A private server: the parallel snapshot takes FLUSH TABLES WITH READ LOCK,
 * which on the shared server would stall (and be stalled by) other tests.
 */
import { randomBytes } from 'node:crypto';
import { createConnection, type Connection } from 'mysql2/promise';
import { startPrivateServer, type PrivateServer } from '../../scripts/lib/mariadb-server';
import type { DbCredentials } from '../../src/config/types';
import { connect, type Db } from '../../src/db/connect';
import { describeTables } from '../../src/db/introspect';
import type { DbTableDetail } from '../../src/db/schema';
import { openSnapshot, prepareSession, type Snapshot } from '../../src/db/snapshot';
import { insertPrefix, rowSelectSql } from '../../src/dump/literals';
import { PARALLEL_MIN_ROWS, rangeKey } from '../../src/dump/ranges';
import * as rowsModule from '../../src/dump/rows';
import { dumpRows } from '../../src/dump/rows';
import { dumpTableRows } from '../../src/dump/table-rows';
import { statementLimit } from '../../src/dump/tuples';
import type { RowSink } from '../../src/store/file-sink';

jest.setTimeout(180_000);

class MemorySink implements RowSink {
  private chunks: Buffer[] = [];
  push(chunk: Buffer | string): boolean {
    // Copied: the dump reuses its buffers once a flush has returned.
    this.chunks.push(Buffer.from(chunk));
    return this.chunks.length > 64;
  }
  async flush(): Promise<void> {
    this.chunks = [Buffer.concat(this.chunks)];
  }
  startRows(): void {}
  endRows(): void {}
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/**
 * A writer stalled at its first flush until `ready()` (a connection paused; 10 s at most), flushing
 * after every push: the readers run ahead meanwhile, whatever the machine's load.
 */
class StalledSink extends MemorySink {
  private stalled = false;
  constructor(private readonly ready: () => boolean) {
    super();
  }
  override push(chunk: Buffer | string): boolean {
    super.push(chunk);
    return true;
  }
  override async flush(): Promise<void> {
    if (!this.stalled) {
      this.stalled = true;
      for (let waited = 0; !this.ready() && waited < 10_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    }
    await super.flush();
  }
}

/** The private server's max_allowed_packet: small, so that the table takes several statements. */
const PACKET = 8 << 20;
const LIMIT = statementLimit(PACKET);

/** The reference: the server renders every tuple (literalExpression), statements cut row by row. */
async function referenceRows(db: Db, table: DbTableDetail): Promise<Buffer> {
  const rows = await new Promise<Buffer[]>((resolve, reject) => {
    const out: Buffer[] = [];
    db.raw
      .query({ sql: rowSelectSql(table), rowsAsArray: true, typeCast: (field: { buffer(): Buffer | null }) => field.buffer() })
      .on('result', (row: unknown) => out.push((row as Buffer[])[0]))
      .on('error', reject)
      .on('end', () => resolve(out));
  });
  const parts: Buffer[] = [];
  let statement = 0;
  const prefix = Buffer.from(insertPrefix(table));
  for (const tuple of rows) {
    if (tuple === null) throw new Error('a rendered row is NULL');
    if (statement > 0 && statement + 1 + tuple.length + 1 > LIMIT) {
      parts.push(Buffer.from(';\n'));
      statement = 0;
    }
    parts.push(statement === 0 ? prefix : Buffer.from(','), tuple);
    statement += statement === 0 ? prefix.length + tuple.length : 1 + tuple.length;
  }
  if (statement > 0) parts.push(Buffer.from(';\n'));
  return Buffer.concat(parts);
}

const ROWS = 60_000;

const CREATE = `CREATE TABLE hostile (
  id INT NOT NULL PRIMARY KEY,
  s VARCHAR(200) CHARACTER SET utf8mb4 NULL,
  l VARCHAR(50) CHARACTER SET latin1 NULL,
  t TEXT NULL,
  b VARBINARY(64) NULL,
  bl LONGBLOB NULL,
  bits BIT(10) NULL,
  f FLOAT NULL, d DOUBLE NULL, d3 DOUBLE(12,3) NULL, dz DOUBLE ZEROFILL NULL, num DECIMAL(30,10) NULL,
  dt DATETIME(6) NULL, ts TIMESTAMP(3) NULL, tm TIME NULL, dte DATE NULL, yr YEAR NULL,
  e ENUM('a','b''q','c\\\\d') NULL, st SET('x','y') NULL,
  j JSON NULL, ip INET6 NULL, u UUID NULL, g POINT NULL,
  big BIGINT UNSIGNED NULL, ti TINYINT NULL,
  gen INT AS (id * 2) VIRTUAL
) ENGINE=InnoDB`;

const FILL = `INSERT INTO hostile (id, s, l, t, b, bl, bits, f, d, d3, dz, num, dt, ts, tm, dte, yr, e, st, j, ip, u, g, big, ti)
  SELECT seq,
    CONCAT('r', seq, ELT(1 + seq % 11, '''', '\\\\', CHAR(0), CHAR(26), '\\r\\n', '😀', 'ü€', '"\`', ';\\n(', '),(', ''',')),
    IF(seq % 4 = 0, NULL, CONCAT('é', seq, '\\\\''')),
    IF(seq % 5 = 0, NULL, REPEAT(CONCAT(seq, ';\\n''),\\r\\n('), seq % 7)),
    UNHEX(SHA1(seq)),
    IF(seq % 4999 = 0, REPEAT(UNHEX('00FF275C0D0A'), 30000), NULL),
    IF(seq % 3 = 0, NULL, seq % 1024),
    IF(seq % 6 = 0, NULL, seq / 7), seq / 3 * POW(10, CAST(seq % 40 AS SIGNED) - 20), seq / 7, seq / 3 * POW(10, CAST(seq % 9 AS SIGNED) - 4), seq / 1000,
    FROM_UNIXTIME(1600000000 + seq, '%Y-%m-%d %H:%i:%s.123456'), FROM_UNIXTIME(1600000000 + seq),
    SEC_TO_TIME(CAST(seq AS SIGNED) - 30000), DATE('2000-01-01') + INTERVAL seq DAY, 1901 + seq % 255,
    ELT(1 + seq % 4, 'a', 'b''q', 'c\\\\d', NULL), ELT(1 + seq % 3, 'x', 'x,y', ''),
    IF(seq % 2, JSON_OBJECT('k', seq, 's', 'q''"\\\\\\n'), NULL),
    IF(seq % 3 = 0, NULL, IF(seq % 2, '::1', CONCAT('fe80::', HEX(seq)))),
    IF(seq % 3 = 0, NULL, CONCAT('123e4567-e89b-12d3-a456-', LPAD(HEX(seq), 12, '0'))),
    IF(seq % 5 = 0, NULL, POINT(seq, -seq / 3)),
    18446744073709551615 - seq, CAST(seq % 256 AS SIGNED) - 128
  FROM seq_1_to_${ROWS}`;

const EDGES = [
  // A row far bigger than a block (2 MiB of binary) and the widest numbers.
  `INSERT INTO hostile (id, bl, f, d, big, ti, num) VALUES (-2147483648, REPEAT(UNHEX('27005C1A0D0A'), 400000), 3.40282e38, -1.7976931348623157e308, 0, -128, -99999999999999999999.9999999999)`,
  `INSERT INTO hostile (id, s, t, f, d, dte, dt, tm) VALUES (2147483647, '', '', -0.0, 4.9406564584124654e-324, '0000-00-00', '0000-00-00 00:00:00', '-838:59:59')`,
  // Where a DOUBLE's shortest text turns to exponent form, both ways: a plain DOUBLE is read raw, the rest through CAST.
  ...[
    [-1, '1e14', '1e8', '1e15'], [-2, '1e15', '123456789.1234', '123456789012345680'], [-3, '1e16', '-0.0005', '0.0001'],
    [-4, '123456789012345678', '0.0004', '1e-5'], [-5, '0.0001', 'NULL', '1.7976931348623157e308'], [-6, '0.00001', '1', '2.2250738585072014e-308'],
    [-7, '9007199254740993', '999999999.999', '0.1'], [-8, '-1.2345678901234567e-300', '-999999999.999', '5e-324'],
  ].map(([id, d, d3, dz]) => `INSERT INTO hostile (id, d, d3, dz) VALUES (${id}, ${d}, ${d3}, ${dz})`),
];

describe('parallel key-range reads', () => {
  let server: PrivateServer;
  let conn: Connection;
  let creds: DbCredentials;
  let tdb: { conn: Connection; name: string };
  let table: DbTableDetail;
  let reference: Buffer;

  beforeAll(async () => {
    server = await startPrivateServer();
    const database = 'sbt_dump_parallel';
    creds = { host: server.host, port: server.port, socketPath: null, user: server.user, password: server.password, database, source: 'test' };
    conn = await createConnection({ host: server.host, port: server.port, user: server.user, password: server.password, charset: 'utf8mb4' });
    await conn.query(`SET GLOBAL max_allowed_packet = ${PACKET}`);
    await conn.query(`CREATE DATABASE ${database} CHARACTER SET utf8mb4`);
    await conn.query(`USE ${database}`);
    tdb = { conn, name: database };
    await tdb.conn.query("SET SESSION sql_mode = ''");
    await tdb.conn.query(CREATE);
    await tdb.conn.query(FILL);
    for (const sql of EDGES) await tdb.conn.query(sql);
    await tdb.conn.query('ANALYZE TABLE hostile');
    const db = await connect(creds);
    try {
      await prepareSession(db);
      table = (await describeTables(db)).get('hostile') as DbTableDetail;
      reference = await referenceRows(db, table);
    } finally {
      await db.close();
    }
  });

  afterAll(async () => {
    await conn?.end().catch(() => undefined);
    await server?.stop();
  });

  async function withSnapshot<T>(readers: number, body: (s: Snapshot) => Promise<T>, user: Partial<DbCredentials> = {}): Promise<T> {
    const snapshot = await openSnapshot({ ...creds, ...user }, { readers });
    try {
      return await body(snapshot);
    } finally {
      await snapshot.close();
    }
  }

  test('the table takes the parallel path: integer key, enough rows, several statements, rows over a block', async () => {
    expect(rangeKey(table)).toBe('id');
    const [rows] = (await tdb.conn.query("SELECT TABLE_ROWS AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'hostile'")) as unknown as [{ n: number }[]];
    expect(Number(rows[0].n)).toBeGreaterThanOrEqual(PARALLEL_MIN_ROWS);
    expect(reference.toString('latin1').split(';\nINSERT INTO').length).toBeGreaterThan(2);
    expect(reference.length).toBeGreaterThan(2 * LIMIT);
  });

  test('one connection gives the reference bytes', async () => {
    const sink = new MemorySink();
    const n = await withSnapshot(1, async (s) => {
      expect(s.readers).toHaveLength(1);
      return (await dumpRows(s.db, table, sink)).rows;
    });
    expect(n).toBe(ROWS + EDGES.length);
    expect(sink.bytes().equals(reference)).toBe(true);
  });

  test('three connections by key range give the same bytes', async () => {
    const sink = new MemorySink();
    const reads = jest.spyOn(rowsModule, 'readTupleBlocks');
    const n = await withSnapshot(3, async (s) => {
      expect(s.readers).toHaveLength(3);
      expect(s.warnings).toEqual([]);
      const { rows } = await dumpTableRows(s, table, sink);
      // Several key ranges, spread over all three connections.
      expect(reads.mock.calls.length).toBeGreaterThanOrEqual(3);
      expect(new Set(reads.mock.calls.map((c) => c[0])).size).toBe(3);
      expect(reads.mock.calls.every((c) => c[1].where !== undefined)).toBe(true);
      return rows;
    });
    reads.mockRestore();
    expect(n).toBe(ROWS + EDGES.length);
    const got = sink.bytes();
    expect(got.length).toBe(reference.length);
    expect(got.equals(reference)).toBe(true);
  });

  test('a writer slower than the readers: connections pause wherever their read-ahead fills, and the dump completes with the same bytes', async () => {
    const pauses = jest.spyOn(rowsModule.ReadAhead.prototype as unknown as { pause(): void }, 'pause');
    const sink = new StalledSink(() => pauses.mock.calls.length > 0);
    const n = await withSnapshot(3, async (s) => (await dumpTableRows(s, table, sink)).rows);
    expect(pauses.mock.calls.length).toBeGreaterThan(0);
    pauses.mockRestore();
    expect(n).toBe(ROWS + EDGES.length);
    expect(sink.bytes().equals(reference)).toBe(true);
  });

  test('ranges smaller than a block still pause their connection when the writer is slow, and the bytes are those of one connection', async () => {
    // 200,000 short rows that InnoDB counts as long (a CHAR(200) left empty: about 230 bytes a row to the planner,
    // 25 of SQL), over eight connections (4 blocks of read-ahead each, 1 MiB ranges as InnoDB counts): about 45
    // key ranges of 4,500 rows, 0.1 MB of SQL each, less than a block, five or six per connection.
    await tdb.conn.query("CREATE TABLE narrow_rows (id INT NOT NULL PRIMARY KEY, a INT NOT NULL, b INT NULL, pad CHAR(200) CHARACTER SET latin1 NOT NULL DEFAULT '')");
    await tdb.conn.query('INSERT INTO narrow_rows (id, a, b) SELECT seq, seq * 7, IF(seq % 5 = 0, NULL, seq % 1000) FROM seq_1_to_200000');
    await tdb.conn.query('ANALYZE TABLE narrow_rows');
    try {
      const narrow = await withSnapshot(1, async (s) => (await describeTables(s.db)).get('narrow_rows') as DbTableDetail);
      const one = new MemorySink();
      await withSnapshot(1, (s) => dumpRows(s.db, narrow, one));
      const pauses = jest.spyOn(rowsModule.ReadAhead.prototype as unknown as { pause(): void }, 'pause');
      const slow = new StalledSink(() => pauses.mock.calls.length > 0);
      const reads = jest.spyOn(rowsModule, 'readTupleBlocks');
      try {
        await withSnapshot(8, (s) => dumpTableRows(s, narrow, slow));
        expect(reads.mock.calls.length).toBeGreaterThanOrEqual(5 * 8);
        // Every block of such a range comes with the end of its result: the pause is owed and taken at the next range.
        expect(pauses.mock.calls.length).toBeGreaterThan(0);
      } finally {
        pauses.mockRestore();
        reads.mockRestore();
      }
      expect(slow.bytes().equals(one.bytes())).toBe(true);
    } finally {
      await tdb.conn.query('DROP TABLE narrow_rows');
    }
  });

  /** A user with `grants` on the test database only (an application user has ALL PRIVILEGES there: no RELOAD, no PROCESS). */
  async function withUser(grants: string, body: (user: { user: string; password: string }) => Promise<void>): Promise<void> {
    const user = `sbt_${randomBytes(4).toString('hex')}`;
    const password = randomBytes(12).toString('hex');
    await tdb.conn.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
    try {
      await tdb.conn.query(`GRANT ${grants} ON \`${tdb.name}\`.* TO '${user}'@'%'`);
      await body({ user, password });
    } finally {
      await tdb.conn.query(`DROP USER IF EXISTS '${user}'@'%'`);
    }
  }

  /** Runs `body` while four connections commit writes back to back. */
  async function whileWritesCommit(body: () => Promise<void>): Promise<void> {
    const writers = await Promise.all(
      [1, 2, 3, 4].map(() => createConnection({ host: server.host, port: server.port, user: server.user, password: server.password, database: tdb.name })),
    );
    await writers[0].query('CREATE TABLE IF NOT EXISTS churn (id INT PRIMARY KEY AUTO_INCREMENT, v INT)');
    let writing = true;
    const loops = writers.map(async (w) => {
      while (writing) await w.query('INSERT INTO churn (v) VALUES (1)');
    });
    try {
      await new Promise((r) => setTimeout(r, 50));
      await body();
    } finally {
      writing = false;
      await Promise.all(loops);
      await writers[0].query('DROP TABLE churn');
      for (const w of writers) await w.end();
    }
  }

  test('an application user (no RELOAD) while writes keep committing: the table locks give three connections in one snapshot, the same bytes', async () => {
    await withUser('ALL PRIVILEGES', (app) =>
      whileWritesCommit(async () => {
        const sink = new MemorySink();
        await tdb.conn.query('CREATE TABLE saved_s AS SELECT id, s FROM hostile WHERE id % 997 = 1');
        await withSnapshot(
          3,
          async (s) => {
            expect(s.readers).toHaveLength(3);
            expect(s.warnings).toEqual([]);
            // Committed after the snapshot opened: none of the three connections may see it.
            await tdb.conn.query("UPDATE hostile SET s = 'changed-after' WHERE id % 997 = 1");
            await dumpTableRows(s, table, sink);
          },
          app,
        );
        await tdb.conn.query('UPDATE hostile h JOIN saved_s v USING (id) SET h.s = v.s');
        await tdb.conn.query('DROP TABLE saved_s');
        expect(sink.bytes().equals(reference)).toBe(true);
      }),
    );
  });

  test('without LOCK TABLES and RELOAD: one connection, a warning naming both, the same bytes', async () => {
    await withUser('SELECT, SHOW VIEW', async (reader) => {
      const sink = new MemorySink();
      await withSnapshot(
        3,
        async (s) => {
          expect(s.readers).toHaveLength(1);
          expect(s.warnings.join('\n')).toMatch(/parallel reads disabled: neither LOCK TABLES .* nor FLUSH TABLES WITH READ LOCK \(the RELOAD privilege\)/);
          await dumpTableRows(s, table, sink);
        },
        reader,
      );
      expect(sink.bytes().equals(reference)).toBe(true);
    });
  });

  test('an uncommitted write holds the table locks off: the global read lock (RELOAD) still gives three connections, the same bytes', async () => {
    const open = await createConnection({ host: server.host, port: server.port, user: server.user, password: server.password, database: tdb.name });
    try {
      await open.query('CREATE TABLE IF NOT EXISTS pending (id INT PRIMARY KEY)');
      await open.query('START TRANSACTION');
      await open.query('INSERT INTO pending VALUES (1)');
      const sink = new MemorySink();
      await withSnapshot(3, async (s) => {
        expect(s.readers).toHaveLength(3);
        await dumpTableRows(s, table, sink);
      });
      expect(sink.bytes().equals(reference)).toBe(true);
    } finally {
      await open.query('ROLLBACK');
      await open.query('DROP TABLE pending');
      await open.end();
    }
  });

  test('the connections share one snapshot: writes committed after it opened do not appear', async () => {
    const sink = new MemorySink();
    await withSnapshot(3, async (s) => {
      // Writes in every range, committed (autocommit) while the snapshot is open.
      await tdb.conn.query("UPDATE hostile SET s = 'changed' WHERE id % 1000 = 1");
      await tdb.conn.query('DELETE FROM hostile WHERE id BETWEEN 30000 AND 30010');
      await tdb.conn.query('INSERT INTO hostile (id, s) VALUES (0, \'new\'), (45000000, \'new\')');
      await tdb.conn.query('INSERT INTO hostile (id, s) SELECT seq + 1000000, \'new\' FROM seq_1_to_100');
      await dumpTableRows(s, table, sink);
    });
    expect(sink.bytes().equals(reference)).toBe(true);
    // The writes did happen: a new snapshot sees them.
    const after = new MemorySink();
    const n = await withSnapshot(3, async (s) => (await dumpTableRows(s, table, after)).rows);
    expect(n).toBe(ROWS + EDGES.length - 11 + 102);
    expect(after.bytes().toString('latin1')).toContain("'changed'");
  });
});
