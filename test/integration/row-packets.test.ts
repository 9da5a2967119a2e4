/**
 * Row packets taken straight off the socket (src/db/row-packets.ts) against
 * mysql2's own parser (SCHEMA_BACKUP_ROW_PACKETS=mysql2), on a real server:
 * the same bytes, rows past mysql2's per-packet dispatch, the socket's chunks
 * cut anywhere (inside a header, a row, the end of rows), rows of 16 MiB and
 * more (several packets each), and an error in the middle of the rows that
 * leaves the connection usable.
 *
 * A private server: the 16 MiB rows need a larger max_allowed_packet.
 */
import type { EventEmitter } from 'node:events';
import { createConnection, type Connection } from 'mysql2/promise';
import { startPrivateServer, type PrivateServer } from '../../scripts/lib/mariadb-server';
import type { DbCredentials } from '../../src/config/types';
import { connect, type Db } from '../../src/db/connect';
import { describeTables } from '../../src/db/introspect';
import type { DbTableDetail } from '../../src/db/schema';
import { prepareSession } from '../../src/db/snapshot';
import { BlockChannel, ReadAhead, readTupleBlocks, writeStatements } from '../../src/dump/rows';
import { takeRowPackets, type RowRanges } from '../../src/db/row-packets';
import { DatabaseError } from '../../src/errors';
import { withEnv } from '../helpers/env';
import { MemorySink } from '../helpers/memory-sink';

jest.setTimeout(120_000);

const DATABASE = 'sbt_row_packets';
/** Room for a row of 17 MiB and its rendering. */
const PACKET = 96 << 20;
const ROWS = 20_000;
/** A row whose packet payload is exactly 0xffffff bytes: an empty packet must follow it. */
const EXACT_ID = 30_001;
/** The payload: `30001` (a length byte and 5 digits), the value's length (0xfd and 3 bytes), the value. */
const EXACT_TEXT = 0xffffff - 6 - 4;

let server: PrivateServer;
let admin: Connection;
let creds: DbCredentials;

beforeAll(async () => {
  server = await startPrivateServer();
  creds = { host: server.host, port: server.port, socketPath: null, user: server.user, password: server.password, database: DATABASE, source: 'test' };
  admin = await createConnection({ host: server.host, port: server.port, user: server.user, password: server.password, charset: 'utf8mb4' });
  await admin.query(`SET GLOBAL max_allowed_packet = ${PACKET}`);
  await admin.end();
  // A new session sees the new max_allowed_packet.
  admin = await createConnection({ host: server.host, port: server.port, user: server.user, password: server.password, charset: 'utf8mb4', multipleStatements: true });
  await admin.query(`CREATE DATABASE ${DATABASE} CHARACTER SET utf8mb4; USE ${DATABASE}`);
  await admin.query(`CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(100) CHARACTER SET utf8mb4 NULL, body MEDIUMTEXT NULL, n BIGINT NULL) ENGINE=InnoDB`);
  await admin.query(
    `INSERT INTO t SELECT seq, IF(seq % 7 = 0, NULL, CONCAT('r', seq, ' \u{1F600} '''',(')), REPEAT(CHAR(65 + seq % 26), (seq * 37) % 3000), IF(seq % 5 = 0, NULL, seq * 1000003) FROM seq_1_to_${ROWS}`,
  );
  await admin.query('CREATE TABLE huge (id INT PRIMARY KEY, v LONGTEXT) ENGINE=InnoDB');
  await admin.query(`INSERT INTO huge VALUES (1, 'small'), (2, REPEAT('x', ${17 << 20})), (${EXACT_ID}, REPEAT('y', ${EXACT_TEXT})), (4, REPEAT('z', ${(16 << 20) - 100})), (5, NULL)`);
});

afterAll(async () => {
  await admin?.end().catch(() => undefined);
  await server?.stop();
});

/** A connection for the enclosing describe block, open from before its tests until after them, with `name` described. */
function sessionFor(name: string, opened: (db: Db, table: DbTableDetail) => void): void {
  let db: Db | undefined;
  beforeAll(async () => {
    db = await connect(creds);
    await prepareSession(db);
    opened(db, (await describeTables(db)).get(name) as DbTableDetail);
  });
  afterAll(async () => {
    await db?.close();
  });
}

/** One table's rows, over one connection, in key ranges (queued on it); with `path`, forced to it. */
async function readRows(db: Db, table: DbTableDetail, opts: { path?: 'mysql2'; ranges?: string[] } = {}): Promise<Buffer> {
  return withEnv(opts.path ? { SCHEMA_BACKUP_ROW_PACKETS: opts.path } : {}, async () => {
    const readAhead = new ReadAhead(db);
    const wheres = opts.ranges ?? [undefined];
    const channels = wheres.map(() => new BlockChannel(readAhead));
    // As dumpTableRows queues them: each range once the one before has ended.
    const read = (i: number): void => {
      if (i < wheres.length) readTupleBlocks(db, { table, where: wheres[i], maxTupleBytes: PACKET }, channels[i], { onEnd: () => read(i + 1) });
    };
    read(0);
    const sink = new MemorySink();
    await writeStatements(table, channels, sink, 16 << 20);
    return sink.bytes();
  });
}

/** Counts the packets mysql2's connection handles itself while `body` runs. */
async function countHandled<T>(db: Db, body: () => Promise<T>): Promise<{ value: T; handled: number }> {
  const conn = db.raw as unknown as { handlePacket(packet: unknown): void };
  const original = conn.handlePacket;
  let handled = 0;
  conn.handlePacket = function (this: unknown, packet: unknown) {
    handled++;
    return original.call(this, packet);
  };
  try {
    return { value: await body(), handled };
  } finally {
    conn.handlePacket = original;
  }
}

type SharedReader = { executeShared?: (chunk: Buffer) => void };

/**
 * Until the returned undo, each row packet parser put in place on the connection reads its chunks of the shared read
 * buffer (executeShared, see src/db/read-buffer.ts) through `read(chunk, original)`.
 */
function wrapSharedReads(db: Db, read: (chunk: Buffer, original: (chunk: Buffer) => void) => void): () => void {
  const conn = db.raw as unknown as { packetParser: SharedReader };
  let parser = conn.packetParser;
  const wrapped = new Set<SharedReader>();
  const wrap = (p: SharedReader): void => {
    const original = p.executeShared;
    if (!original || wrapped.has(p)) return;
    wrapped.add(p);
    p.executeShared = (chunk) => read(chunk, (piece) => original.call(p, piece));
  };
  Object.defineProperty(conn, 'packetParser', {
    configurable: true,
    get: () => parser,
    set: (p: SharedReader) => {
      parser = p;
      wrap(p);
    },
  });
  return () => {
    delete (conn as { packetParser?: unknown }).packetParser;
    conn.packetParser = parser;
    for (const p of wrapped) delete p.executeShared;
  };
}

/** readRows, with each chunk of the shared read buffer read through `read` (see wrapSharedReads). */
async function readRowsThrough(db: Db, table: DbTableDetail, read: (chunk: Buffer, original: (chunk: Buffer) => void) => void): Promise<Buffer> {
  const unwrap = wrapSharedReads(db, read);
  try {
    return await readRows(db, table);
  } finally {
    unwrap();
  }
}

/**
 * From now on, every chunk the connection reads is cut into pieces of the given sizes, in turn: those handed to
 * mysql2 (its `data` events) and those a row packet parser reads out of the shared read buffer (each piece as a
 * chunk of its own, valid only while it is read).
 */
function cutChunks(db: Db, sizes: number[]): () => void {
  let turn = 0;
  const pieces = (chunk: Buffer, each: (piece: Buffer) => void): void => {
    for (let p = 0; p < chunk.length; ) {
      const piece = chunk.subarray(p, p + sizes[turn++ % sizes.length]);
      p += piece.length;
      each(piece);
    }
  };
  const stream = (db.raw as unknown as { stream: NodeJS.EventEmitter }).stream;
  const listeners = stream.listeners('data') as ((chunk: Buffer) => void)[];
  stream.removeAllListeners('data');
  const cutter = (chunk: Buffer): void => pieces(chunk, (piece) => listeners.forEach((l) => l(piece)));
  stream.on('data', cutter);
  const unwrap = wrapSharedReads(db, (chunk, original) => pieces(chunk, original));
  return () => {
    stream.removeListener('data', cutter);
    for (const l of listeners) stream.on('data', l);
    unwrap();
  };
}

describe('rows off the socket', () => {
  let db: Db;
  let table: DbTableDetail;
  let reference: Buffer;
  sessionFor('t', (d, t) => ((db = d), (table = t)));
  beforeAll(async () => {
    reference = (await countHandled(db, () => readRows(db, table, { path: 'mysql2' }))).value;
    db.raw.on('warn', (w: unknown) => warnings.push(w));
  });
  /** mysql2's warnings: a packet out of sequence (the direct path keeps the connection's sequence id). */
  const warnings: unknown[] = [];
  afterEach(() => {
    expect(warnings).toEqual([]);
  });

  test('rows bypass mysql2 packet dispatch, on every key range queued on a connection, with the bytes of mysql2 parser', async () => {
    const ranges = ['`id` <= 5000', '`id` > 5000 AND `id` <= 12000', '`id` > 12000'];
    const viaMysql2 = await countHandled(db, () => readRows(db, table, { path: 'mysql2', ranges }));
    const direct = await countHandled(db, () => readRows(db, table, { ranges }));
    // mysql2 handles every row packet; the direct path only, per range, the statement's preparation (the binary
    // protocol: its answer and column definitions), the result's header, column definitions and end: 17 for 4 columns.
    expect(viaMysql2.handled).toBeGreaterThan(ROWS);
    expect(direct.handled).toBeLessThan(ranges.length * 20);
    expect(direct.value.equals(reference)).toBe(true);
    expect(viaMysql2.value.equals(reference)).toBe(true);
    expect(reference.toString('utf8')).toContain("(20000,'r20000 \u{1F600} \\'\\',(',");
  });

  test('the rows are read out of the connection\'s one read buffer: every chunk the row parser reads is a view of the same memory', async () => {
    const memory = new Set<ArrayBufferLike>();
    let chunks = 0;
    const bytes = await readRowsThrough(db, table, (chunk, original) => {
      memory.add(chunk.buffer);
      chunks++;
      original(chunk);
    });
    expect(bytes.equals(reference)).toBe(true);
    expect(chunks).toBeGreaterThan(100);
    expect(memory.size).toBe(1);
  });

  test('a packet that a chunk ends inside is gathered in one of two buffers that take turns, not in a new buffer each', async () => {
    type Framer = { packet?: (buf: Buffer, p: number, length: number) => void };
    const conn = db.raw as unknown as { packetParser: Framer };
    const gathered = new Set<Buffer>();
    let completed = 0;
    let piece: Buffer | null = null;
    const wrapped = new Set<Framer>();
    const bytes = await readRowsThrough(db, table, (chunk, original) => {
      const parser = conn.packetParser;
      const packet = parser.packet;
      if (!wrapped.has(parser) && packet) {
        wrapped.add(parser);
        // Every whole packet passes here: one not in the piece being read was gathered across pieces.
        parser.packet = function (this: unknown, buf, p, length) {
          if (buf !== piece) {
            gathered.add(buf);
            completed++;
          }
          return packet.call(this, buf, p, length);
        };
      }
      // Pieces of 1,000 bytes: most rows (up to 3 KB) end in a later piece than they start.
      for (let p = 0; p < chunk.length; p += 1000) {
        piece = chunk.subarray(p, p + 1000);
        original(piece);
      }
    });
    expect(bytes.equals(reference)).toBe(true);
    expect(completed).toBeGreaterThan(ROWS / 2);
    expect(gathered.size).toBeLessThanOrEqual(2);
  });

  test('where the direct path cannot be taken (a connection that says it is compressed), mysql2 reads the rows, with the same bytes', async () => {
    const config = (db.raw as unknown as { config: { compress?: boolean } }).config;
    const before = config.compress;
    config.compress = true;
    try {
      const fallback = await countHandled(db, () => readRows(db, table));
      expect(fallback.handled).toBeGreaterThan(ROWS);
      expect(fallback.value.equals(reference)).toBe(true);
    } finally {
      config.compress = before;
    }
  });

  test.each([
    ['one byte at a time', [1], ['`id` <= 1500', '`id` > 1500 AND `id` <= 3000']],
    ['headers and payloads cut at every offset', [1, 2, 3, 4, 5, 6, 7, 1000, 3, 2], ['`id` <= 7000', '`id` > 7000']],
    ['large pieces cut off-packet', [65_521, 4099], ['`id` <= 7000', '`id` > 7000']],
  ])('the socket chunks cut into pieces (%s): the bytes of mysql2 parser, and the connection answers after', async (_name, sizes, ranges) => {
    const expected = await readRows(db, table, { path: 'mysql2', ranges });
    const uncut = cutChunks(db, sizes);
    let bytes: Buffer;
    try {
      bytes = await readRows(db, table, { ranges });
    } finally {
      uncut();
    }
    expect(bytes.length).toBeGreaterThan(1 << 20);
    expect(bytes.equals(expected)).toBe(true);
    expect(await db.queryArrays('SELECT COUNT(*) FROM t')).toEqual([[String(ROWS)]]);
  });

  test('an error in the middle of the rows (KILL QUERY): a DatabaseError naming the table, and the connection keeps working', async () => {
    // A read-ahead of one block: the connection pauses at its first block, and the server waits in the middle of the result.
    const channel = new BlockChannel(new ReadAhead(db, 1));
    readTupleBlocks(db, { table, maxTupleBytes: PACKET }, channel);
    const raw = db.raw as unknown as { _paused: boolean; threadId: number };
    for (let waited = 0; !raw._paused && waited < 10_000; waited += 10) await new Promise((r) => setTimeout(r, 10));
    expect(raw._paused).toBe(true);
    await admin.query(`KILL QUERY ${raw.threadId}`);
    let error: unknown = null;
    let blocks = 0;
    try {
      while (await channel.next()) blocks++;
    } catch (err) {
      error = err;
    }
    expect(blocks).toBeGreaterThan(0);
    expect(error).toBeInstanceOf(DatabaseError);
    expect((error as Error).message).toMatch(/reading rows of table t\b.*interrupted/i);
    expect(await db.queryArrays('SELECT COUNT(*) FROM t')).toEqual([[String(ROWS)]]);
    expect((await readRows(db, table)).equals(reference)).toBe(true);
  });

  test('a server that prepares no statement (max_prepared_stmt_count = 0): every range is read as text, to the same bytes', async () => {
    const [[{ before }]] = (await admin.query('SELECT @@GLOBAL.max_prepared_stmt_count AS `before`')) as unknown as [[{ before: number }]];
    const executions = async () => Number((await db.queryArrays("SHOW SESSION STATUS LIKE 'Com_stmt_execute'"))[0][1]);
    const executed = await executions();
    await admin.query('SET GLOBAL max_prepared_stmt_count = 0');
    let bytes: Buffer;
    try {
      bytes = await readRows(db, table, { ranges: ['`id` <= 5000', '`id` > 5000'] });
    } finally {
      await admin.query(`SET GLOBAL max_prepared_stmt_count = ${Number(before)}`);
    }
    expect(await executions()).toBe(executed);
    expect(bytes.equals(reference)).toBe(true);
  });
});

describe('prepared statements over many ranges', () => {
  let db: Db;
  let table: DbTableDetail;
  sessionFor('t', (d, t) => {
    db = d;
    table = t;
  });
  /** 40 key ranges of 500 rows. */
  const RANGES = Array.from({ length: 40 }, (_, i) => (i === 39 ? `\`id\` > ${i * 500}` : `\`id\` > ${i * 500} AND \`id\` <= ${(i + 1) * 500}`));

  test('a connection holds one statement at most: each is closed before the next range prepares its own', async () => {
    const reference = await readRows(db, table);
    let peak = 0;
    let reading = true;
    const watch = (async () => {
      while (reading) {
        const [[row]] = (await admin.query("SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'")) as unknown as [[{ Value: string }]];
        peak = Math.max(peak, Number(row.Value));
      }
    })();
    const bytes = await readRows(db, table, { ranges: RANGES });
    reading = false;
    await watch;
    expect(bytes.equals(reference)).toBe(true);
    expect(peak).toBeLessThanOrEqual(1);
  });

  test('one range in the middle refused its statement (max_prepared_stmt_count): read as text in its turn, the same bytes, no hang', async () => {
    const reference = await readRows(db, table);
    const raw = db.raw as unknown as { execute: (...args: unknown[]) => unknown };
    const execute = raw.execute;
    let calls = 0;
    // What mysql2 does when the server refuses a prepare: the execution emits the error, then ends, and never runs.
    let Execute: (new (options: unknown) => EventEmitter) | null = null;
    raw.execute = function (this: unknown, ...args: unknown[]) {
      if (++calls !== 5) {
        const cmd = execute.apply(this, args) as object;
        Execute = Object.getPrototypeOf(cmd).constructor;
        return cmd;
      }
      const refused = new (Execute as new (options: unknown) => EventEmitter)(args[0]);
      const err = Object.assign(new Error("Can't create more than max_prepared_stmt_count statements (current value: 0)"), { errno: 1461, code: 'ER_MAX_PREPARED_STMT_COUNT_REACHED' });
      setImmediate(() => {
        refused.emit('error', err);
        refused.emit('end');
      });
      return refused;
    };
    let bytes: Buffer | undefined;
    try {
      const timeout = new Promise<'hung'>((r) => setTimeout(() => r('hung'), 20_000).unref());
      const result = await Promise.race([readRows(db, table, { ranges: RANGES }), timeout]);
      expect(result).not.toBe('hung');
      bytes = result as Buffer;
    } finally {
      raw.execute = execute;
    }
    expect(calls).toBeGreaterThan(RANGES.length - 2);
    expect(bytes?.equals(reference)).toBe(true);
  });
});

describe('the rest of a query, and a reader that fails', () => {
  let db: Db;
  let table: DbTableDetail;
  sessionFor('t', (d, t) => ((db = d), (table = t)));

  test('an empty result, and a query that fails before its rows: mysql2 gets their packets, the connection answers after', async () => {
    expect((await readRows(db, table, { ranges: ['`id` < 0', '`id` BETWEEN 5 AND 6'] })).toString()).toMatch(/^INSERT INTO `t` VALUES \(5,'r5 .*\),\(6,'r6 .*\);\n$/s);
    const channel = new BlockChannel(new ReadAhead(db));
    readTupleBlocks(db, { table, where: '`no_such_column` = 1', maxTupleBytes: PACKET }, channel);
    await expect(channel.next()).rejects.toThrow(/reading rows of table t\b.*no_such_column/);
    expect(await db.queryArrays('SELECT COUNT(*) FROM t')).toEqual([[String(ROWS)]]);
  });

  /** The row payloads of `SELECT id, body FROM t` through takeRowPackets, read in pieces of 1,000 bytes, copied at once or at each chunk's end. */
  /**
   * The row payloads of `sql` through takeRowPackets, read in pieces of 1,000 bytes: copied at once, at each chunk's
   * end, or framed in bulk into batches of three rows (each copied when the next batch is asked for).
   */
  async function rowPayloads(copy: 'at once' | 'at chunk end' | 'in batches of three', sql = 'SELECT id, body FROM t'): Promise<{ rows: Buffer[]; batches: number }> {
    const own = await connect(creds);
    const unwrap = wrapSharedReads(own, (chunk, original) => {
      for (let p = 0; p < chunk.length; p += 1000) original(chunk.subarray(p, p + 1000));
    });
    try {
      const query = own.raw.query({ sql, rowsAsArray: true }) as unknown as NodeJS.EventEmitter & { next?: { name?: string } };
      const rows: Buffer[] = [];
      let held: [Buffer, number, number][] = [];
      let batch: RowRanges | null = null;
      let batches = 0;
      const copyHeld = (): void => {
        for (const [src, start, end] of held) rows.push(Buffer.from(src.subarray(start, end)));
        held = [];
        for (let i = 0; batch && i < batch.count; i++) rows.push(Buffer.from(batch.src.subarray(batch.ranges[2 * i], batch.ranges[2 * i + 1])));
        batch = null;
      };
      // The chunk that ends the query gets no chunkDone: its rows are copied at the end of rows (as rows.ts encodes them there).
      const ended = new Promise((resolve, reject) => {
        query.on('end', () => resolve(copyHeld()));
        query.on('error', reject);
      });
      takeRowPackets(own.raw, {
        command: query,
        inRows: () => query.next?.name === 'row',
        row: (src, start, end) => {
          if (copy === 'at once') rows.push(Buffer.from(src.subarray(start, end)));
          else held.push([src, start, end]);
        },
        rowRanges: (src) => {
          if (copy !== 'in batches of three') return null;
          copyHeld();
          batches++;
          batch = { src, ranges: new Int32Array(6), count: 0 };
          return batch;
        },
        chunkDone: copyHeld,
        fail: (err) => {
          throw err;
        },
      });
      await ended;
      return { rows, batches };
    } finally {
      unwrap();
      own.destroy();
    }
  }

  test('a row gathered across chunks keeps its bytes until the end of the chunk that completes it (its reader may copy it only then)', async () => {
    const { rows: atOnce } = await rowPayloads('at once');
    const { rows: atChunkEnd } = await rowPayloads('at chunk end');
    expect(atOnce).toHaveLength(ROWS);
    expect(atChunkEnd).toHaveLength(ROWS);
    // Compared row by row (a failing toEqual would print 20,000 buffers).
    const differing = atOnce.filter((row, i) => !row.equals(atChunkEnd[i])).length;
    expect(differing).toBe(0);
  });

  test('rows framed in bulk into batches that fill inside a chunk: every row once, in order, with its bytes', async () => {
    // Keys only (rows of 6-10 bytes): a piece of 1,000 bytes holds about a hundred, so each fills many batches of three.
    const { rows: atOnce } = await rowPayloads('at once', 'SELECT id FROM t');
    const { rows: framed, batches } = await rowPayloads('in batches of three', 'SELECT id FROM t');
    expect(atOnce).toHaveLength(ROWS);
    expect(batches).toBeGreaterThan(ROWS / 3);
    expect(framed).toHaveLength(ROWS);
    expect(framed.filter((row, i) => !row.equals(atOnce[i])).length).toBe(0);
  });

  const broke = (): never => {
    throw new Error('the reader broke');
  };
  test.each([
    ['one row at a time', { row: broke, rowRanges: () => null }],
    ['rows framed in bulk', { row: broke, rowRanges: broke }],
  ])('a reader that throws (%s): the connection fails as mysql2 fails it, and the query and those queued behind it are told', async (_how, reader) => {
    const own = await connect(creds);
    try {
      const query = own.raw.query({ sql: 'SELECT id, s FROM t', rowsAsArray: true }) as unknown as NodeJS.EventEmitter & { next?: { name?: string } };
      const told = new Promise<unknown>((resolve) => query.on('error', resolve));
      const failed: unknown[] = [];
      takeRowPackets(own.raw, {
        command: query,
        inRows: () => query.next?.name === 'row',
        ...reader,
        chunkDone: () => undefined,
        fail: (err) => failed.push(err),
      });
      const queued = own.queryArrays('SELECT 2');
      const settled = await Promise.race([
        Promise.all([told, queued.then(() => 'answered', (err: unknown) => err)]),
        new Promise((resolve) => setTimeout(() => resolve('hung'), 10_000).unref()),
      ]);
      expect(failed.map((e) => (e as Error).message)).toEqual(['the reader broke']);
      expect(settled).toEqual([expect.objectContaining({ message: 'the reader broke' }), expect.any(Error)]);
    } finally {
      own.destroy();
    }
  });
});

describe('rows of 16 MiB and more (several packets each)', () => {
  let db: Db;
  let table: DbTableDetail;
  sessionFor('huge', (d, t) => ((db = d), (table = t)));

  test('the same bytes as mysql2 parser, whole and with the socket chunks cut', async () => {
    const reference = await readRows(db, table, { path: 'mysql2' });
    const direct = await countHandled(db, () => readRows(db, table));
    // The preparation, the result's header, column definitions and end (see above).
    expect(direct.handled).toBeLessThan(20);
    expect(direct.value.equals(reference)).toBe(true);
    const uncut = cutChunks(db, [7, 70_001, 3]);
    try {
      expect((await readRows(db, table)).equals(reference)).toBe(true);
    } finally {
      uncut();
    }
    const text = reference.toString('latin1');
    expect(text.startsWith("INSERT INTO `huge` VALUES (1,'small');\n")).toBe(true);
    expect(text).toContain(`(2,'${'x'.repeat(17 << 20)}')`);
    expect(text).toContain(`(4,'${'z'.repeat((16 << 20) - 100)}'),(5,NULL);\n`);
    expect(text.endsWith(`VALUES (${EXACT_ID},'${'y'.repeat(EXACT_TEXT)}');\n`)).toBe(true);
  });
});
