/**
 * Binary-protocol rows (src/dump/binary-wire.ts, encodeBinaryRows in
 * native/tuple_encoder.cc): which column types come as bytes, rows built by
 * hand for each, and rows that lie about their length. The integration test
 * binary-protocol.test.ts compares whole tables with the text protocol.
 */
import { Wire, resultWire, wireOf } from '../../src/dump/binary-wire';
import { ValueKind } from '../../src/dump/literals';
import { nativeEncoder, type NativeEncoder } from '../../src/dump/native-encoder';
import { BLOCK_BYTES, TupleEncoder, type TupleBlock } from '../../src/dump/tuples';

const UNSIGNED = 32;

describe('wire forms', () => {
  test.each([
    [1, 0, Wire.Int8], [1, UNSIGNED, Wire.Uint8], [2, 0, Wire.Int16], [2, UNSIGNED, Wire.Uint16], [3, 0, Wire.Int32], [9, UNSIGNED, Wire.Uint32],
    [8, 0, Wire.Int64], [8, UNSIGNED, Wire.Uint64], [4, 0, Wire.Float], [5, UNSIGNED, Wire.Double],
    [246, 0, Wire.LengthCoded], [253, 0, Wire.LengthCoded], [252, 0, Wire.LengthCoded], [16, 0, Wire.LengthCoded], [6, 0, Wire.LengthCoded], [255, 0, Wire.LengthCoded],
  ])('protocol type %i (flags %i) comes as wire %i', (type, flags, wire) => {
    expect(wireOf(type, flags)).toBe(wire);
  });

  test.each([[7], [10], [11], [12], [13], [17], [100]])('protocol type %i (temporal, YEAR, unknown) is not decoded', (type) => {
    expect(wireOf(type, 0)).toBeNull();
    expect(resultWire([{ name: 'a', columnType: 3, flags: 0 }, { name: 'when', columnType: type, flags: 0 }])).toEqual({ unsupported: `column when (protocol type ${type})` });
  });
});

/** A binary row: 0x00, the NULL bitmap (offset 2), then each non-NULL value's bytes. */
function binaryRow(values: (Buffer | null)[]): Buffer {
  const bitmap = Buffer.alloc((values.length + 9) >> 3);
  values.forEach((v, i) => {
    if (v === null) bitmap[(i + 2) >> 3] |= 1 << ((i + 2) & 7);
  });
  return Buffer.concat([Buffer.of(0), bitmap, ...values.filter((v): v is Buffer => v !== null)]);
}

function le(bytes: number, value: bigint): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) b[i] = Number((value >> BigInt(8 * i)) & 0xffn);
  return b;
}

function lengthCoded(text: string): Buffer {
  const v = Buffer.from(text);
  return Buffer.concat([Buffer.of(v.length), v]);
}

function f64(x: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(x);
  return b;
}

function f32(x: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeFloatLE(x);
  return b;
}

function encode(kinds: ValueKind[], wire: Wire[], rows: Buffer[]): string {
  const enc = new TupleEncoder(Uint8Array.from(kinds), 't', 1 << 30);
  enc.readBinary(Uint8Array.from(wire));
  const src = Buffer.concat(rows);
  const ranges: number[] = [];
  for (let at = 0, i = 0; i < rows.length; at += rows[i].length, i++) ranges.push(at, at + rows[i].length);
  const blocks: TupleBlock[] = [];
  enc.encodeRows({ src, ranges: Int32Array.from(ranges), count: rows.length }, (b) => blocks.push(b));
  if (!enc.empty) blocks.push(enc.take());
  return Buffer.concat(blocks.map((b) => b.data)).toString();
}

const N = ValueKind.Number;

describe('encodeBinaryRows', () => {
  test('integers of every size and sign, at their limits', () => {
    const wire = [Wire.Int8, Wire.Uint8, Wire.Int16, Wire.Uint16, Wire.Int32, Wire.Uint32, Wire.Int64, Wire.Uint64];
    const sizes = [1, 1, 2, 2, 4, 4, 8, 8];
    const low = wire.map((w, i) => (w % 2 === 1 ? -(1n << BigInt(8 * sizes[i] - 1)) : 0n));
    const high = wire.map((w, i) => (w % 2 === 1 ? (1n << BigInt(8 * sizes[i] - 1)) - 1n : (1n << BigInt(8 * sizes[i])) - 1n));
    const row = (values: bigint[]) => binaryRow(values.map((v, i) => le(sizes[i], v)));
    const text = encode(wire.map(() => N), wire, [row(low), row(high), row(wire.map(() => 0n))]);
    expect(text).toBe(`(${low.join(',')}),(${high.join(',')}),(${wire.map(() => 0).join(',')}),`);
  });

  test('integers around every power of ten and at random, as BigInt writes them (digits made two at a time, 32- and 64-bit)', () => {
    const values: bigint[] = [];
    for (let k = 1n; k <= 10n ** 19n; k *= 10n) values.push(k - 1n, k, k + 1n);
    values.push((1n << 32n) - 1n, 1n << 32n, (1n << 32n) + 1n, (1n << 64n) - 1n);
    let seed = 0x2545f491n;
    for (let i = 0; i < 2000; i++) {
      seed = (seed * 6364136223846793005n + 1442695040888963407n) & ((1n << 64n) - 1n);
      values.push(seed >> BigInt(i % 64));
    }
    const rows = values.map((v) => binaryRow([le(8, v), le(8, -(v & ((1n << 63n) - 1n)))]));
    const expected = values.map((v) => `(${v},${-(v & ((1n << 63n) - 1n))}),`).join('');
    expect(encode([N, N], [Wire.Uint64, Wire.Int64], rows)).toBe(expected);
  });

  test.each([
    [1, '1'], [100, '100'], [0.1, '0.1'], [-2.5, '-2.5'], [1e15, '1e15'], [123456789012345, '123456789012345'], [1.5e15, '1.5e15'],
    [1234567890123456.7, '1234567890123456.8'], [1e16, '1e16'], [0.00001, '0.00001'], [1e-14, '0.00000000000001'], [1e-15, '0.000000000000001'], [1e-16, '1e-16'],
    [-1.2345678901234567e-14, '-0.000000000000012345678901234567'], [1e300, '1e300'], [-1e-300, '-1e-300'], [5e-324, '5e-324'],
    [1.7976931348623157e308, '1.7976931348623157e308'], [123456789012345680, '1.2345678901234568e17'], [0, '0'], [-0, '0'],
  ])('the DOUBLE %p is written %s', (x, text) => {
    expect(encode([N], [Wire.Double], [binaryRow([f64(x)])])).toBe(`(${text}),`);
  });

  test('a FLOAT is written as the DOUBLE it widens to (CAST(... AS DOUBLE)), not its 6 digits', () => {
    expect(encode([N, N], [Wire.Float, Wire.Float], [binaryRow([f32(1 / 3), f32(0.1)])])).toBe('(0.3333333432674408,0.10000000149011612),');
  });

  test('NULLs, DEFAULT and length-coded values keep their kinds', () => {
    const kinds = [N, ValueKind.String, ValueKind.Default, ValueKind.Hex, N];
    const wire = [Wire.Int32, Wire.LengthCoded, Wire.LengthCoded, Wire.LengthCoded, Wire.LengthCoded];
    const rows = [binaryRow([le(4, 7n), lengthCoded("it's"), null, lengthCoded('\x01'), lengthCoded('1.50')]), binaryRow([null, null, null, null, null])];
    expect(encode(kinds, wire, rows)).toBe("(7,'it\\'s',DEFAULT,X'01',1.50),(NULL,NULL,DEFAULT,NULL,NULL),");
  });

  test.each([
    ['a value cut short', binaryRow([le(8, 1n)]).subarray(0, 6)],
    ['no bitmap', Buffer.of(0)],
    ['not a binary row (no 0x00 header)', Buffer.concat([Buffer.of(1), binaryRow([le(8, 1n)]).subarray(1)])],
  ])('%s is refused, naming the table', (_what, row) => {
    expect(() => encode([N], [Wire.Int64], [row])).toThrow(/table t: a row packet from the server is malformed/);
  });

  test('arguments of the wrong type or a wire list of another length are refused', () => {
    const native = nativeEncoder() as NativeEncoder;
    const src = binaryRow([le(4, 1n)]);
    const call = (wire: unknown) => () =>
      native.encodeBinaryRows(src, Int32Array.of(0, src.length), 0, 1, Uint8Array.of(N), wire as Uint8Array, Buffer.alloc(128), 0, BLOCK_BYTES, new Int32Array(4), 0, 1 << 30, new Int32Array(2));
    expect(call(Uint8Array.of(Wire.Int32))()).toBe(1);
    expect(call(Uint8Array.of(Wire.Int32, Wire.Int32))).toThrow(/encodeBinaryRows: bad arguments/);
    expect(call(Int32Array.of(Wire.Int32))).toThrow(/encodeBinaryRows: bad arguments/);
  });

  test('a wire list that does not match the columns asked for is a clear error', () => {
    const enc = new TupleEncoder(Uint8Array.of(N, N), 'the_table', 1 << 30);
    expect(() => enc.readBinary(Uint8Array.of(Wire.Int8))).toThrow(/table the_table: the server's result has 1 columns where 2 were asked for/);
  });
});
