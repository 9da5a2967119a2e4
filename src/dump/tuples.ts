/**
 * The hot path, in two halves. TupleEncoder turns raw text-protocol row
 * packets into SQL tuples `(v1,v2,...)` written straight into large buffers
 * (no per-row objects, no strings). StatementWriter consumes those blocks in
 * key order and cuts them into multi-row INSERT statements: the only place
 * that decides statement boundaries, so one connection or several give the
 * same bytes.
 *
 * The layout is the one CSV2's db_upgrade parses by hand (line-based): all rows
 * of a table in one `INSERT INTO `t` VALUES (...),(...);` on one line while it
 * fits a statement, and no `),(` or `','` inside a value (see writeQuoted).
 */
import { DatabaseError } from '../errors';
import type { RowSink } from '../store/file-sink';
import { ValueKind } from './literals';
import { Byte } from '../domain/sql-bytes';
import { NativeStatus, nativeEncoder, type NativeEncoder } from './native-encoder';

/**
 * The stock client's default max_allowed_packet (16 MiB): a statement longer than
 * this fails in `mariadb DB < FILE` even where the server would take it.
 */
export const CLIENT_PACKET_BYTES = 16 << 20;
/** Room left in a packet for the command byte and the client's own framing. */
const PACKET_MARGIN = 1024;

/** Longest statement for a server's max_allowed_packet: the smaller of it and the stock client's. */
export function statementLimit(maxAllowedPacket: number): number {
  return Math.min(maxAllowedPacket, CLIENT_PACKET_BYTES) - PACKET_MARGIN;
}
/** Size at which an encoder hands its buffer on: large writes, bounded memory. */
export const BLOCK_BYTES = 1 << 20;

const ROW_SEPARATOR = Buffer.from(',');
const STATEMENT_END = Buffer.from(';\n');
const HEX_DIGITS = Buffer.from('0123456789ABCDEF');

const BUFFER_BYTES = BLOCK_BYTES + (BLOCK_BYTES >> 4);
/** Block buffers whose bytes have reached the file: reused, so memory does not wait for the garbage collector. */
const spare: Buffer[] = [];
const MAX_SPARE = 16;

const EMPTY = Buffer.alloc(0);
/** A generated column's place in a row: it is recomputed on load. */
const DEFAULT_WORD = Buffer.from('DEFAULT');

function blockBuffer(): Buffer {
  return spare.pop() ?? Buffer.allocUnsafe(BUFFER_BYTES);
}

/**
 * Tuple-length arrays of blocks already written, reused as their buffers are: a new one is memory touched for the
 * first time, and zeroed (on the big table, a fifth of a run's page faults after its start).
 */
const spareLengths: Int32Array<ArrayBuffer>[] = [];

function lengthsArray(length: number): Int32Array<ArrayBuffer> {
  const i = spareLengths.findIndex((a) => a.length >= length);
  return i >= 0 ? spareLengths.splice(i, 1)[0] : new Int32Array(length);
}

/** Gives a block's buffer and lengths back once nothing refers to its bytes any more (a flush wrote them). */
export function recycleBlock(block: TupleBlock): void {
  const buf = block.data;
  if (buf.byteOffset === 0 && buf.buffer.byteLength === BUFFER_BYTES && spare.length < MAX_SPARE) {
    spare.push(Buffer.from(buf.buffer, 0, BUFFER_BYTES));
  }
  const { lengths } = block;
  if (lengths instanceof Int32Array && lengths.byteOffset === 0 && lengths.buffer.byteLength > 0 && spareLengths.length < MAX_SPARE) {
    // Encoders make them (lengthsArray): never over shared memory.
    spareLengths.push(new Int32Array(lengths.buffer as ArrayBuffer));
  }
}

/** What a block holds in memory, in blocks: one, or more for a buffer grown to hold a tuple larger than a block. */
export function blockUnits(block: TupleBlock): number {
  return Math.max(1, Math.ceil(block.data.buffer.byteLength / BUFFER_BYTES));
}

/** Rendered tuples, each followed by `,`; lengths[i] is tuple i's length without that separator. */
export interface TupleBlock {
  /** The tuples, each followed by a comma, and nothing else. */
  data: Buffer;
  lengths: ArrayLike<number>;
}

/** Row packets that arrived in one socket chunk: `ranges` holds [start, end) pairs into `src`. */
export interface RowBatch {
  src: Buffer;
  ranges: Int32Array;
  count: number;
}

/** Tuple lengths a fresh block has room for (it grows if rows are smaller). */
const LENGTHS_START = 1 << 14;
const EMPTY_LENGTHS = new Int32Array(0);

/** For each byte, the letter after the backslash that escapes it, or 0: what QUOTE() escapes. */
const QUOTE_ESCAPES = new Uint8Array(256);
QUOTE_ESCAPES[0x27] = 0x27; // \'
QUOTE_ESCAPES[0x5c] = 0x5c; // \\
QUOTE_ESCAPES[0x00] = 0x30; // \0
QUOTE_ESCAPES[0x1a] = 0x5a; // \Z
/** Marks the comma: escaped or not by its neighbours (see commaNeedsEscape). */
QUOTE_ESCAPES[Byte.COMMA] = 1;
/** Text columns: also CR and LF, as the REPLACE around QUOTE does. */
const TEXT_ESCAPES = Uint8Array.from(QUOTE_ESCAPES);
TEXT_ESCAPES[0x0d] = 0x72; // \r
TEXT_ESCAPES[0x0a] = 0x6e; // \n

/**
 * db_upgrade splits the INSERT line on `),(` and csv2_configuration's rows on
 * `','` without looking at quotes. A comma inside a string is written `\,`
 * (MariaDB reads `\,` as `,`) exactly where one of those splits would
 * otherwise cut the value: between `)` and `(`, and as the last character after
 * a quote (`...',` + closing quote) or alone (`','`). Elsewhere it stays plain.
 */
function commaNeedsEscape(src: Buffer, i: number, from: number, to: number): boolean {
  if (i > from && i + 1 < to) return src[i - 1] === 0x29 && src[i + 1] === 0x28;
  return i + 1 === to && (i === from || src[i - 1] === 0x27);
}

/** Short runs by hand: below a few hundred bytes Buffer.copy's call costs more than the bytes. */
function copyBytes(src: Buffer, from: number, to: number, out: Buffer, pos: number): number {
  if (to - from < 256) {
    for (let i = from; i < to; i++) out[pos++] = src[i];
    return pos;
  }
  return pos + src.copy(out, pos, from, to);
}

/** One pass, byte by byte: measured faster than scanning for escapes and copying the runs between them. */
function writeQuoted(src: Buffer, from: number, to: number, out: Buffer, pos: number, escapes: Uint8Array): number {
  out[pos++] = 0x27;
  for (let i = from; i < to; i++) {
    const b = src[i];
    const e = escapes[b];
    if (e === 0) {
      out[pos++] = b;
    } else if (e === 1) {
      if (commaNeedsEscape(src, i, from, to)) out[pos++] = 0x5c;
      out[pos++] = b;
    } else {
      out[pos++] = 0x5c;
      out[pos++] = e;
    }
  }
  out[pos++] = 0x27;
  return pos;
}

export class TupleEncoder {
  // Taken lazily: an encoder whose range ends (or is empty) must not strand a buffer.
  private out: Buffer = EMPTY;
  private pos = 0;
  // Taken with the first row, as the buffer is.
  private lengths = EMPTY_LENGTHS;
  /** Rows of the last block: the next one likely holds as many. */
  private lengthsHint = 0;
  private count = 0;
  /** The native encoder's results: [new pos, status]. */
  private readonly state = new Int32Array(2);
  /** Set for binary-protocol rows (see readBinary); null for text-protocol rows. */
  private wire: Uint8Array | null = null;

  /** maxTupleBytes: a larger tuple fails, as the server-side rendering does beyond max_allowed_packet. */
  constructor(
    private readonly kinds: Uint8Array,
    private readonly table: string,
    private readonly maxTupleBytes: number,
    private readonly native: NativeEncoder | null = nativeEncoder(),
  ) {}

  /**
   * The rows to come are binary-protocol rows whose values come as `wire` says (one entry per kind),
   * encoded by native code only: the reader asks for them only where it is built (readsBinary).
   */
  readBinary(wire: Uint8Array): void {
    if (wire.length !== this.kinds.length) throw new DatabaseError(`table ${this.table}: the server's result has ${wire.length} columns where ${this.kinds.length} were asked for`);
    if (!this.native) throw new Error('binary-protocol rows need the native encoder');
    this.wire = wire;
  }

  /** True where this encoder can take binary-protocol rows. */
  get readsBinary(): boolean {
    return this.native !== null;
  }

  /** True once the current block is big enough to hand on (take()). */
  get full(): boolean {
    return this.pos >= BLOCK_BYTES;
  }

  get empty(): boolean {
    return this.count === 0;
  }

  take(): TupleBlock {
    const block = { data: this.out.subarray(0, this.pos), lengths: this.lengths.subarray(0, this.count) };
    this.out = EMPTY;
    this.pos = 0;
    this.lengths = EMPTY_LENGTHS;
    this.lengthsHint = this.count;
    this.count = 0;
    return block;
  }

  /**
   * Encodes a batch of rows, handing each full block to `onBlock` (which may pause the
   * connection: the batch has arrived already). Native code does the bytes where it is built.
   */
  encodeRows(batch: RowBatch, onBlock: (block: TupleBlock) => void): void {
    const { src, ranges, count } = batch;
    for (let first = 0; first < count; ) {
      if (this.out === EMPTY) this.out = blockBuffer();
      if (this.native) first += this.encodeNative(src, ranges, first, count - first);
      else {
        this.encodeRow(src, ranges[2 * first], ranges[2 * first + 1]);
        first++;
      }
      if (this.full) onBlock(this.take());
    }
  }

  /** Rows encoded by native code, from `first`; it stops at a full block or where the next row might not fit. */
  private encodeNative(src: Buffer, ranges: Int32Array, first: number, count: number): number {
    const state = this.state;
    const native = this.native as NativeEncoder;
    const done = this.wire
      ? native.encodeBinaryRows(src, ranges, first, count, this.kinds, this.wire, this.out, this.pos, BLOCK_BYTES, this.lengths, this.count, this.maxTupleBytes, state)
      : native.encodeRows(src, ranges, first, count, this.kinds, this.out, this.pos, BLOCK_BYTES, this.lengths, this.count, this.maxTupleBytes, state);
    this.pos = state[0];
    this.count += done;
    if (state[1] === NativeStatus.TooLarge) throw this.tooLarge();
    if (state[1] === NativeStatus.Malformed) throw this.malformed();
    if (done === 0 && !this.full) {
      // No room: for more lengths, or in the buffer for the next row.
      if (this.count === this.lengths.length) this.growLengths();
      else this.grow(this.worstCase(ranges[2 * first + 1] - ranges[2 * first]));
    }
    return done;
  }

  /** Bytes a row of `rowBytes` may take once encoded (as EncodeRows in native/tuple_encoder.cc counts them). */
  private worstCase(rowBytes: number): number {
    // Every byte escaped or hexed (2x), quotes and NULL/DEFAULT words (or a binary number's text), separators.
    return 2 * rowBytes + (this.wire ? 40 : 7) * this.kinds.length + 8;
  }

  private malformed(): DatabaseError {
    return new DatabaseError(`table ${this.table}: a row packet from the server is malformed (its values run past its end); run the backup again`);
  }

  private tooLarge(): DatabaseError {
    return new DatabaseError(
      `table ${this.table}: a row is larger than the server's max_allowed_packet once rendered; raise max_allowed_packet (SET GLOBAL max_allowed_packet=1073741824) and run again`,
    );
  }

  private growLengths(): void {
    const bigger = lengthsArray(Math.max(LENGTHS_START, this.lengthsHint, this.lengths.length * 2));
    bigger.set(this.lengths);
    this.lengths = bigger;
  }

  /** Encodes one text-protocol row: `kinds.length` length-coded values in src[start, end). */
  encodeRow(src: Buffer, start: number, end: number): void {
    const kinds = this.kinds;
    const n = kinds.length;
    const need = this.worstCase(end - start);
    if (this.out === EMPTY) this.out = blockBuffer();
    if (this.pos + need > this.out.length) this.grow(need);
    const out = this.out;
    let pos = this.pos;
    const tupleStart = pos;
    let p = start;
    out[pos++] = 0x28; // (
    for (let c = 0; c < n; c++) {
      if (c > 0) out[pos++] = 0x2c; // ,
      if (p >= end) throw this.malformed();
      let len = src[p];
      if (len < 0xfb) {
        p += 1;
      } else if (len === 0xfb) {
        p += 1;
        if (kinds[c] === ValueKind.Default) {
          pos += DEFAULT_WORD.copy(out, pos);
          continue;
        }
        out[pos++] = 0x4e; // NULL
        out[pos++] = 0x55;
        out[pos++] = 0x4c;
        out[pos++] = 0x4c;
        continue;
      } else if (len === 0xfc) {
        len = src[p + 1] | (src[p + 2] << 8);
        p += 3;
      } else if (len === 0xfd) {
        len = src[p + 1] | (src[p + 2] << 8) | (src[p + 3] << 16);
        p += 4;
      } else {
        len = src.readUInt32LE(p + 1) + src.readUInt32LE(p + 5) * 0x100000000;
        p += 9;
      }
      const stop = p + len;
      if (stop > end) throw this.malformed();
      switch (kinds[c]) {
        case ValueKind.Number:
          pos = copyBytes(src, p, stop, out, pos);
          break;
        case ValueKind.String:
          pos = writeQuoted(src, p, stop, out, pos, QUOTE_ESCAPES);
          break;
        case ValueKind.Text:
          pos = writeQuoted(src, p, stop, out, pos, TEXT_ESCAPES);
          break;
        case ValueKind.Hex:
          out[pos++] = 0x58; // X'
          out[pos++] = 0x27;
          for (; p < stop; p++) {
            const b = src[p];
            out[pos++] = HEX_DIGITS[b >> 4];
            out[pos++] = HEX_DIGITS[b & 15];
          }
          out[pos++] = 0x27;
          break;
        default: // ValueKind.Bit: BIN() digits
          out[pos++] = 0x62; // b'
          out[pos++] = 0x27;
          for (; p < stop; p++) out[pos++] = src[p];
          out[pos++] = 0x27;
      }
      p = stop;
    }
    out[pos++] = 0x29; // )
    const length = pos - tupleStart;
    if (length > this.maxTupleBytes) throw this.tooLarge();
    out[pos++] = 0x2c; // ,
    if (this.count === this.lengths.length) this.growLengths();
    this.lengths[this.count++] = length;
    this.pos = pos;
  }

  /** A tuple that does not fit: the filled part stays in this block's data, a fresh buffer follows. */
  private grow(need: number): void {
    const size = Math.max(BUFFER_BYTES, this.pos + need);
    const bigger = Buffer.allocUnsafe(size);
    this.out.copy(bigger, 0, 0, this.pos);
    this.out = bigger;
  }
}


/**
 * Multi-row INSERT statements from tuple blocks taken in order, on one line
 * each: a statement takes rows while it stays within `limit` bytes (prefix,
 * rows with their commas, `;`), so a table that fits is one statement, the
 * one db_upgrade reads. A row longer than the limit on its own gets a
 * statement of its own. Block bytes go to the sink without a copy.
 */
export class StatementWriter {
  rows = 0;
  statements = 0;
  /** Bytes of the open statement (0: none open). */
  private statementBytes = 0;

  constructor(
    private readonly prefix: Buffer,
    private readonly sink: RowSink,
    private readonly limit: number,
  ) {}

  /** Returns true when the sink wants a flush before more is added. */
  add(block: TupleBlock): boolean {
    const { data, lengths } = block;
    if (lengths.length > 0 && this.fitsWhole(data.length)) return this.addWhole(data, lengths.length);
    const sink = this.sink;
    const limit = this.limit;
    let full = false;
    let p = 0;
    // Start of the bytes of this block not yet pushed (they belong to the open statement).
    let runStart = 0;
    for (let i = 0; i < lengths.length; i++) {
      const len = lengths[i];
      if (this.statementBytes > 0 && this.statementBytes + 1 + len + 1 > limit) {
        // This row would overflow the open statement: close it before the row.
        if (p - 1 > runStart) full = sink.push(data.subarray(runStart, p - 1)) || full;
        full = sink.push(STATEMENT_END) || full;
        this.statementBytes = 0;
        runStart = p;
      }
      if (this.statementBytes === 0) {
        full = sink.push(this.prefix) || full;
        this.statements++;
        this.statementBytes = this.prefix.length + len;
        runStart = p;
      } else {
        // The previous block's last row was left open: its separator is owed.
        if (i === 0) full = sink.push(ROW_SEPARATOR) || full;
        this.statementBytes += 1 + len;
      }
      this.rows++;
      p += len + 1;
    }
    // The last row stays open (its comma not pushed): the next block continues the statement, or end() closes it.
    if (this.statementBytes > 0 && p - 1 > runStart) full = sink.push(data.subarray(runStart, p - 1)) || full;
    return full;
  }

  /**
   * The whole block goes into the open statement (or opens one) without closing it: the test the row loop makes for
   * each row, made once for its last (a statement only grows, so every row before it passes too). Most blocks are a
   * small part of a statement; the loop cost about 8 ns a row (5M narrow rows, --cpu-prof).
   */
  private fitsWhole(dataBytes: number): boolean {
    // Open: each row adds a comma and itself, data's bytes in all. None open: the prefix, then the rows less one comma.
    const after = this.statementBytes > 0 ? this.statementBytes + dataBytes : this.prefix.length + dataBytes - 1;
    return after + 1 <= this.limit;
  }

  private addWhole(data: Buffer, rows: number): boolean {
    let full = false;
    if (this.statementBytes > 0) {
      full = this.sink.push(ROW_SEPARATOR) || full;
      this.statementBytes += data.length;
    } else {
      full = this.sink.push(this.prefix) || full;
      this.statements++;
      this.statementBytes = this.prefix.length + data.length - 1;
    }
    this.rows += rows;
    // The last row stays open, its comma not pushed (as in add()).
    return this.sink.push(data.subarray(0, data.length - 1)) || full;
  }

  end(): void {
    if (this.statementBytes > 0) this.sink.push(STATEMENT_END);
    this.statementBytes = 0;
  }
}
