/** The row encoder and the statement writer, without a server: crafted packets in, exact bytes out. */
import { ValueKind } from '../../src/dump/literals';
import { parallelReadAhead, planKeyRanges, rangeCondition, rangeKey, rowsPerRange, PARALLEL_MIN_ROWS, ROWS_PER_RANGE } from '../../src/dump/ranges';
import { nativeEncoder, nativeEncoderProblem, type NativeEncoder } from '../../src/dump/native-encoder';
import { BLOCK_BYTES, CLIENT_PACKET_BYTES, StatementWriter, TupleEncoder, recycleBlock, statementLimit, type TupleBlock } from '../../src/dump/tuples';
import { prng } from '../helpers/prng';
import { MemorySink } from '../helpers/memory-sink';

/** A text-protocol row: each value length-coded, null as 0xfb. */
function packet(values: (Buffer | string | null)[]): Buffer {
  const parts: Buffer[] = [];
  for (const v of values) {
    if (v === null) {
      parts.push(Buffer.from([0xfb]));
      continue;
    }
    const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
    if (b.length < 0xfb) parts.push(Buffer.from([b.length]));
    else if (b.length < 0x10000) parts.push(Buffer.from([0xfc, b.length & 0xff, b.length >> 8]));
    else if (b.length < 0x1000000) parts.push(Buffer.from([0xfd, b.length & 0xff, (b.length >> 8) & 0xff, b.length >> 16]));
    else {
      const h = Buffer.alloc(9);
      h[0] = 0xfe;
      h.writeUInt32LE(b.length, 1);
      parts.push(h);
    }
    parts.push(b);
  }
  return Buffer.concat(parts);
}

/** The encoders under test: the JavaScript reference, and the native one `npm ci` builds. */
const ENCODERS: [string, NativeEncoder | null][] = [
  ['JavaScript', null],
  ['native', nativeEncoder()],
];

function encoder(kinds: ValueKind[], native: NativeEncoder | null, maxTupleBytes = 1 << 30): TupleEncoder {
  return new TupleEncoder(Uint8Array.from(kinds), 't', maxTupleBytes, native);
}

/** Encodes rows given as [start, end) ranges of `src` in one batch; returns every block. */
function encodeBatch(enc: TupleEncoder, src: Buffer, ranges: number[]): TupleBlock[] {
  const blocks: TupleBlock[] = [];
  enc.encodeRows({ src, ranges: Int32Array.from(ranges), count: ranges.length / 2 }, (b) => blocks.push(b));
  if (!enc.empty) blocks.push(enc.take());
  return blocks;
}

function encodeOne(kinds: ValueKind[], values: (Buffer | string | null)[], native: NativeEncoder | null = null): string {
  // Offset the row inside a larger buffer, as packets sit inside socket chunks.
  const row = packet(values);
  const src = Buffer.concat([Buffer.from('junk'), row, Buffer.from('junk')]);
  const [block, ...more] = encodeBatch(encoder(kinds, native), src, [4, 4 + row.length]);
  expect(more).toHaveLength(0);
  expect(block.lengths).toHaveLength(1);
  expect(block.data.subarray(block.lengths[0]).toString('latin1')).toBe(',');
  return block.data.subarray(0, block.lengths[0]).toString('utf8');
}

/** The row-at-a-time rule the statement writer must reproduce exactly: a statement takes rows while it fits `limit`. */
function reference(prefix: string, tuples: string[], limit: number): string {
  let out = '';
  let statement = 0;
  for (const t of tuples) {
    const len = Buffer.byteLength(t, 'latin1');
    if (statement > 0 && statement + 1 + len + 1 > limit) {
      out += ';\n';
      statement = 0;
    }
    out += statement === 0 ? prefix + t : ',' + t;
    statement += statement === 0 ? prefix.length + len : 1 + len;
  }
  if (statement > 0) out += ';\n';
  return out;
}

describe.each(ENCODERS)('TupleEncoder (%s)', (_name, native) => {
  test('numbers are copied, NULL is NULL', () => {
    expect(encodeOne([ValueKind.Number, ValueKind.Number, ValueKind.Number], ['42', null, '-1.50'], native)).toBe('(42,NULL,-1.50)');
  });

  test('strings are escaped exactly as QUOTE(): \\ \' NUL ^Z, CR and LF left raw', () => {
    const raw = "a'b\\c\0d\x1ae\rf\ng\"h`";
    expect(encodeOne([ValueKind.String], [raw], native)).toBe("('a\\'b\\\\c\\0d\\Ze\rf\ng\"h`')");
  });

  test('text also escapes CR and LF as \\r \\n', () => {
    expect(encodeOne([ValueKind.Text], ["x\r\ny'"], native)).toBe("('x\\r\\ny\\'')");
  });

  test('multi-byte UTF-8 passes through untouched', () => {
    expect(encodeOne([ValueKind.Text], ['ü€😀'], native)).toBe("('ü€😀')");
  });

  test('binary becomes upper-case hex, empty binary X\'\'', () => {
    expect(encodeOne([ValueKind.Hex, ValueKind.Hex, ValueKind.Hex], [Buffer.from([0, 0xff, 0x27, 0x5c, 0xab]), Buffer.alloc(0), null], native)).toBe("(X'00FF275CAB',X'',NULL)");
  });

  test('BIT digits become b\'...\'', () => {
    expect(encodeOne([ValueKind.Bit, ValueKind.Bit], ['101', null], native)).toBe("(b'101',NULL)");
  });

  test.each([
    // [value, written]: only commas that db_upgrade's naive splits would cut on get a backslash.
    ['a),(b', "'a)\\,(b'"],
    ['),(),(', "')\\,()\\,('"],
    ['a,b', "'a,b'"],
    [',', "'\\,'"],
    ["x',", "'x\\'\\,'"],
    [",'", "',\\''"],
    ["a','b", "'a\\',\\'b'"],
    ['(,)', "'(,)'"],
    [')x,(', "')x,('"],
    ['x,', "'x,'"],
  ])('a comma in %j is written so db_upgrade cannot split on it', (value, written) => {
    for (const kind of [ValueKind.String, ValueKind.Text]) expect(encodeOne([kind, ValueKind.Number], [value, '1'], native)).toBe(`(${written},1)`);
  });

  test('a generated column is written DEFAULT in its place', () => {
    expect(encodeOne([ValueKind.Number, ValueKind.Default, ValueKind.Number], ['1', null, '2'], native)).toBe('(1,DEFAULT,2)');
  });

  test('every length encoding is read (1, 2, 3 bytes)', () => {
    const mid = 'x'.repeat(300);
    const big = 'y'.repeat(70000);
    expect(encodeOne([ValueKind.String, ValueKind.String, ValueKind.Number], [mid, big, '7'], native)).toBe(`('${mid}','${big}',7)`);
  });

  test('a row larger than the limit fails like the server-side rendering did', () => {
    const enc = new TupleEncoder(Uint8Array.from([ValueKind.String]), 'tbl', 10, native);
    const row = packet(['0123456789']);
    expect(() => encodeBatch(enc, row, [0, row.length])).toThrow(/table tbl: a row is larger than the server's max_allowed_packet/);
  });

  test('a row larger than a block gets a buffer of its own', () => {
    const small = packet([Buffer.from('ab')]);
    const row = packet([Buffer.alloc(BLOCK_BYTES, 0x11)]);
    const blocks = encodeBatch(encoder([ValueKind.Hex], native), Buffer.concat([small, row]), [0, small.length, small.length, small.length + row.length]);
    expect(blocks).toHaveLength(1);
    const [block] = blocks;
    expect(Array.from(block.lengths)).toEqual([9, 2 * BLOCK_BYTES + 5]);
    expect(block.data.subarray(0, 11).toString()).toBe("(X'6162'),(");
    expect(block.data.length).toBe(9 + 1 + 2 * BLOCK_BYTES + 5 + 1);
  });

  test('many small rows in one batch: blocks cut at the block size, every length kept', () => {
    // 300,000 rows of 4 bytes each overflow the first lengths array and fill more than one block.
    const rows = 300_000;
    const one = packet(['7']);
    const src = Buffer.concat(Array.from({ length: rows }, () => one));
    const ranges = Array.from({ length: rows }, (_, i) => [i * one.length, (i + 1) * one.length]).flat();
    const blocks = encodeBatch(encoder([ValueKind.Number], native), src, ranges);
    expect(blocks.length).toBeGreaterThan(1);
    for (const b of blocks.slice(0, -1)) expect(b.data.length).toBeGreaterThanOrEqual(BLOCK_BYTES);
    expect(blocks.reduce((n, b) => n + b.lengths.length, 0)).toBe(rows);
    expect(Buffer.concat(blocks.map((b) => b.data)).toString('latin1')).toBe('(7),'.repeat(rows));
  });
});

describe('the native encoder', () => {
  test('is built (npm ci builds it with node-gyp; without it rows are encoded in JavaScript, about 3x slower)', () => {
    expect(nativeEncoderProblem()).toBeNull();
  });

  /** Values made mostly of the bytes that matter: quotes, backslashes, commas and brackets, CR, LF, NUL, ^Z, UTF-8. */
  function randomValue(next: () => number, kind: ValueKind): Buffer | string | null {
    if (next() < 0.1) return null;
    const length = next() < 0.01 ? 250 + Math.floor(next() * 3000) : Math.floor(next() * 12);
    if (kind === ValueKind.Number) return String(Math.floor(next() * 1e9) - 5e8);
    if (kind === ValueKind.Bit) return Array.from({ length }, () => (next() < 0.5 ? '0' : '1')).join('');
    const alphabet = ["'", '\\', ',', ')', '(', '\r', '\n', '\0', '\x1a', 'a', 'é', '😀', '"'];
    if (kind === ValueKind.Hex) return Buffer.from(Array.from({ length }, () => Math.floor(next() * 256)));
    return Array.from({ length }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
  }

  test('writes exactly the bytes of the JavaScript encoder on random rows of every kind', () => {
    const native = nativeEncoder();
    const next = prng(20261130);
    const kindsOf = [ValueKind.Number, ValueKind.String, ValueKind.Text, ValueKind.Hex, ValueKind.Bit, ValueKind.Default];
    for (let round = 0; round < 20; round++) {
      const kinds = Array.from({ length: 1 + Math.floor(next() * 8) }, () => kindsOf[Math.floor(next() * kindsOf.length)]);
      const rows = Array.from({ length: 1000 }, () => packet(kinds.map((k) => (k === ValueKind.Default ? null : randomValue(next, k)))));
      const src = Buffer.concat(rows);
      const ranges: number[] = [];
      for (let at = 0, i = 0; i < rows.length; at += rows[i].length, i++) ranges.push(at, at + rows[i].length);
      const js = encodeBatch(encoder(kinds, null), src, ranges);
      const fast = encodeBatch(encoder(kinds, native), src, ranges);
      expect(Buffer.concat(fast.map((b) => b.data)).equals(Buffer.concat(js.map((b) => b.data)))).toBe(true);
      expect(fast.flatMap((b) => Array.from(b.lengths))).toEqual(js.flatMap((b) => Array.from(b.lengths)));
    }
  });

  test('arguments of the wrong type or out of range are refused before any byte is touched', () => {
    const native = nativeEncoder() as NativeEncoder;
    const src = packet(['x']);
    const call = (over: Partial<Record<'ranges' | 'first' | 'count' | 'out' | 'lengths' | 'state', unknown>>) => () =>
      native.encodeRows(
        src, (over.ranges ?? Int32Array.of(0, src.length)) as Int32Array, (over.first ?? 0) as number, (over.count ?? 1) as number,
        Uint8Array.of(ValueKind.String), (over.out ?? Buffer.alloc(64)) as Buffer, 0, BLOCK_BYTES, (over.lengths ?? new Int32Array(4)) as Int32Array,
        0, 1 << 30, (over.state ?? new Int32Array(2)) as Int32Array,
      );
    expect(call({})()).toBe(1);
    expect(call({ state: new Uint8Array(2) })).toThrow(/encodeRows: bad arguments/);
    expect(call({ lengths: Buffer.alloc(16) })).toThrow(/encodeRows: bad arguments/);
    expect(call({ ranges: Buffer.alloc(8) })).toThrow(/encodeRows: bad arguments/);
    expect(call({ out: new Int32Array(16) })).toThrow(/encodeRows: bad arguments/);
    expect(call({ first: 2 ** 52, count: 2 ** 52 })).toThrow(/encodeRows: bad arguments/);
    expect(call({ count: 2 })).toThrow(/encodeRows: bad arguments/);
    expect(call({ first: -1 })).toThrow(/encodeRows: bad arguments/);
  });

  test.each(ENCODERS)('a row whose values run past its packet is refused, naming the table (%s)', (_name, native) => {
    const row = packet(['abcdef', '1']);
    for (const cut of [row.length - 1, row.length - 4]) {
      const enc = new TupleEncoder(Uint8Array.from([ValueKind.String, ValueKind.Number]), 'tbl', 1 << 30, native);
      expect(() => encodeBatch(enc, row, [0, cut])).toThrow(/table tbl: a row packet from the server is malformed/);
    }
  });
});

describe('block recycling', () => {
  test.each(ENCODERS)('a written block gives back its buffer and its lengths: the next block reuses both, and its bytes are its own (%s)', (_name, native) => {
    const rows = (from: number) => Array.from({ length: 3000 }, (_, i) => packet([`row ${from + i}`, String(from + i)]));
    const encodeAll = (from: number): { blocks: TupleBlock[]; text: string } => {
      const list = rows(from);
      const src = Buffer.concat(list);
      const ranges: number[] = [];
      for (let p = 0, i = 0; i < list.length; p += list[i].length, i++) ranges.push(p, p + list[i].length);
      const blocks = encodeBatch(encoder([ValueKind.String, ValueKind.Number], native), src, ranges);
      const text = blocks.map((b) => b.data.toString('utf8')).join('');
      return { blocks, text };
    };
    const first = encodeAll(0);
    expect(first.blocks).toHaveLength(1);
    const [written] = first.blocks;
    recycleBlock(written);
    const second = encodeAll(5000);
    expect(second.blocks).toHaveLength(1);
    const [next] = second.blocks;
    expect(next.data.buffer).toBe(written.data.buffer);
    expect((next.lengths as Int32Array).buffer).toBe((written.lengths as Int32Array).buffer);
    expect(second.text).toBe(Array.from({ length: 3000 }, (_, i) => `('row ${5000 + i}',${5000 + i}),`).join(''));
    expect(Array.from(next.lengths)).toEqual(Array.from({ length: 3000 }, (_, i) => `('row ${5000 + i}',${5000 + i})`.length));
  });
});

describe('StatementWriter', () => {
  const prefix = 'INSERT INTO `t` VALUES ';
  /** Small enough that a few MiB of rows cross many statement boundaries. */
  const LIMIT = 256 << 10;

  function blocksOf(tuples: string[], cut: (i: number) => boolean): TupleBlock[] {
    const blocks: TupleBlock[] = [];
    let parts: Buffer[] = [];
    let lengths: number[] = [];
    tuples.forEach((t, i) => {
      parts.push(Buffer.from(t + ',', 'latin1'));
      lengths.push(t.length);
      if (cut(i)) {
        blocks.push({ data: Buffer.concat(parts), lengths });
        parts = [];
        lengths = [];
      }
    });
    if (lengths.length) blocks.push({ data: Buffer.concat(parts), lengths });
    return blocks;
  }

  test.each([
    ['one block', () => false],
    ['a block per row', () => true],
    ['random blocks', (i: number) => (i * 7919) % 13 === 0],
  ])('cuts statements every %s exactly like row-at-a-time writing', (_name, cut) => {
    // Rows of varied length, a few MiB in all: several statement boundaries, some at block edges.
    const tuples = Array.from({ length: 30000 }, (_, i) => `(${i},'${'v'.repeat((i * 31) % 211)}')`);
    const sink = new MemorySink();
    const writer = new StatementWriter(Buffer.from(prefix), sink, LIMIT);
    for (const b of blocksOf(tuples, cut)) writer.add(b);
    writer.end();
    expect(writer.rows).toBe(tuples.length);
    const expected = reference(prefix, tuples, LIMIT);
    const lines = expected.split('\n').slice(0, -1);
    expect(lines.length).toBeGreaterThan(3);
    expect(writer.statements).toBe(lines.length);
    // One statement per line, each within the limit, and each full: the next row would not have fitted.
    lines.forEach((line, i) => {
      expect(line.startsWith(prefix)).toBe(true);
      expect(line.endsWith(');')).toBe(true);
      expect(line.length).toBeLessThanOrEqual(LIMIT);
      if (i < lines.length - 1) expect(line.length).toBeGreaterThan(LIMIT - 250);
    });
    expect(sink.text('latin1')).toBe(expected);
  });

  test.each([-2, -1, 0, 1, 2])('blocks that end %d bytes from a statement\'s limit are cut as row-at-a-time writing cuts them', (offset) => {
    // Ten rows of 10 bytes a block: a statement of the prefix and n rows is prefix + 11n - 1 bytes, then `;`.
    const tuples = Array.from({ length: 200 }, (_, i) => `(${String(i).padStart(3, '0')},'ab')`);
    expect(new Set(tuples.map((t) => t.length))).toEqual(new Set([10]));
    for (const rows of [10, 20, 30]) {
      const limit = prefix.length + 11 * rows - 1 + 1 + offset;
      const sink = new MemorySink();
      const writer = new StatementWriter(Buffer.from(prefix), sink, limit);
      for (const b of blocksOf(tuples, (i) => i % 10 === 9)) writer.add(b);
      writer.end();
      expect(sink.text('latin1')).toBe(reference(prefix, tuples, limit));
      expect(writer.rows).toBe(tuples.length);
      expect(writer.statements).toBe(reference(prefix, tuples, limit).split('\n').length - 1);
    }
  });

  test('a table that fits is one statement on one line', () => {
    const sink = new MemorySink();
    const writer = new StatementWriter(Buffer.from(prefix), sink, LIMIT);
    for (const b of blocksOf(['(1)', "('a')", '(NULL)'], () => true)) writer.add(b);
    writer.end();
    expect(sink.text('latin1')).toBe("INSERT INTO `t` VALUES (1),('a'),(NULL);\n");
    expect(writer.statements).toBe(1);
  });

  test('a row longer than the limit gets a statement of its own', () => {
    const sink = new MemorySink();
    const writer = new StatementWriter(Buffer.from(prefix), sink, 100);
    const big = `('${'x'.repeat(200)}')`;
    for (const b of blocksOf(['(1)', big, '(2)'], () => false)) writer.add(b);
    writer.end();
    expect(sink.text('latin1')).toBe(`${prefix}(1);\n${prefix}${big};\n${prefix}(2);\n`);
    expect(writer.statements).toBe(3);
  });

  test('the limit is the smaller of the server packet and the stock client default, less a margin', () => {
    expect(statementLimit(64 << 20)).toBe(CLIENT_PACKET_BYTES - 1024);
    expect(statementLimit(4 << 20)).toBe((4 << 20) - 1024);
  });

  test('no rows, no statement', () => {
    const sink = new MemorySink();
    const writer = new StatementWriter(Buffer.from(prefix), sink, LIMIT);
    writer.end();
    expect(sink.text('latin1')).toBe('');
    expect(writer.statements).toBe(0);
  });
});

describe('key ranges', () => {
  const table = (type: string, pk = ['id']) => ({ name: 't', primaryKey: pk, columns: [{ name: 'id', dataType: type, generated: false }, { name: 'v', dataType: 'int', generated: false }] });

  test('only a single-column integer primary key qualifies', () => {
    expect(rangeKey(table('bigint'))).toBe('id');
    expect(rangeKey(table('varchar'))).toBeNull();
    expect(rangeKey(table('int', ['id', 'v']))).toBeNull();
    expect(rangeKey(table('int', []))).toBeNull();
  });

  test('small tables and one reader read in one open range', () => {
    expect(planKeyRanges(1n, 10n ** 6n, PARALLEL_MIN_ROWS - 1, 3)).toEqual([{ from: null, to: null }]);
    expect(planKeyRanges(1n, 10n ** 6n, 10 ** 6, 1)).toEqual([{ from: null, to: null }]);
  });

  test.each([
    [1n, 1_000_000n, 1_000_000],
    [-(2n ** 63n), 2n ** 63n - 1n, 5_000_000],
    [0n, 2n ** 64n - 1n, 100_000],
    [5n, 9n, 100_000],
  ])('ranges over [%s, %s] are ordered, adjacent and open at both ends', (min, max, rows) => {
    const ranges = planKeyRanges(min, max, rows, 3);
    expect(ranges.length).toBeGreaterThan(1);
    expect(ranges[0].from).toBeNull();
    expect(ranges[ranges.length - 1].to).toBeNull();
    for (let i = 1; i < ranges.length; i++) {
      expect(ranges[i].from).toBe(ranges[i - 1].to);
      expect((ranges[i].from as bigint) > min && (ranges[i].from as bigint) <= max).toBe(true);
      if (i > 1) expect((ranges[i].from as bigint) > (ranges[i - 1].from as bigint)).toBe(true);
    }
  });

  test('parallel readers share one read-ahead budget, each holding four of its ranges, never less than one reader alone', () => {
    expect(parallelReadAhead(2)).toEqual({ blocks: 12, rangeBytes: 3 * BLOCK_BYTES });
    expect(parallelReadAhead(3)).toEqual({ blocks: 8, rangeBytes: 2 * BLOCK_BYTES });
    expect(parallelReadAhead(4)).toEqual({ blocks: 6, rangeBytes: (6 * BLOCK_BYTES) / 4 });
    for (const readers of [6, 8, 16]) expect(parallelReadAhead(readers)).toEqual({ blocks: 4, rangeBytes: BLOCK_BYTES });
    for (let readers = 2; readers <= 16; readers++) {
      const { blocks, rangeBytes } = parallelReadAhead(readers);
      expect(blocks * readers).toBeLessThanOrEqual(Math.max(24, 4 * readers));
      expect(rangeBytes * 4).toBeLessThanOrEqual(blocks * BLOCK_BYTES);
    }
  });

  test('ranges are sized in bytes from the row length: short rows make long ranges, so a range costs few statements', () => {
    // The narrow shape (three INTs, ~35 bytes a row as InnoDB counts) read by two connections: 3 MiB ranges.
    expect(rowsPerRange(35, 2)).toBe(Math.floor((3 * BLOCK_BYTES) / 35));
    expect(rowsPerRange(35, 2)).toBeGreaterThan(ROWS_PER_RANGE);
    // Wide rows: fewer rows, never under a thousand; unknown length: the fixed count; absurdly short: capped.
    expect(rowsPerRange(2_000, 2)).toBe(Math.floor((3 * BLOCK_BYTES) / 2_000));
    expect(rowsPerRange(1e6, 2)).toBe(1_000);
    expect(rowsPerRange(0, 2)).toBe(ROWS_PER_RANGE);
    expect(rowsPerRange(1, 2)).toBe(250_000);
    // A 1M-row table of 250-byte rows over two connections: about 80 ranges (it was 239 with 1 MiB ranges).
    const ranges = planKeyRanges(1n, 1_000_000n, 1_000_000, 2, 250);
    expect(ranges.length).toBe(Math.ceil(1_000_000 / Math.floor((3 * BLOCK_BYTES) / 250)));
    expect(ranges.length).toBeLessThan(90);
  });

  test('conditions quote the column and use exact integers', () => {
    expect(rangeCondition('i`d', { from: 18446744073709551615n, to: null })).toBe('`i``d` >= 18446744073709551615');
    expect(rangeCondition('id', { from: -5n, to: 10n })).toBe('`id` >= -5 AND `id` < 10');
    expect(rangeCondition('id', { from: null, to: null })).toBeUndefined();
  });
});
