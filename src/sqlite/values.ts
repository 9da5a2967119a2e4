/**
 * Row values between a backup file's INSERT statements and SQLite (pure).
 * RowDecoder reads the literals schema_backup writes (NULL, DEFAULT, numbers,
 * '…' with MariaDB's backslash escapes, X'…', b'…') straight from the
 * statement's bytes into the values SQLite stores for each column's codec;
 * sqlLiteral renders a stored value back into a literal MariaDB reads to the
 * same value. Values from an SQLite file are checked before they become SQL:
 * a number is written only if it is one.
 */
import { escapeSplitCommasText } from '../dump/literals';
import type { Codec } from './type-map';
import { Byte } from '../domain/sql-bytes';

/** What SQLite stores (better-sqlite3 with safeIntegers: integers as bigint). */
export type SqliteValue = null | bigint | number | string | Buffer;

export const INT64_MAX = 9223372036854775807n;


/** The letter after a backslash -> the byte it stands for (MariaDB's escapes; \% and \_ keep their backslash). */
const UNESCAPE = new Int16Array(256).fill(-1);
UNESCAPE[0x30] = 0x00; // \0
UNESCAPE[0x62] = 0x08; // \b
UNESCAPE[0x6e] = 0x0a; // \n
UNESCAPE[0x72] = 0x0d; // \r
UNESCAPE[0x74] = 0x09; // \t
UNESCAPE[0x5a] = 0x1a; // \Z

export interface InsertHead {
  table: string;
  /** The statement's column list, or null when it has none (then every column, in table order). */
  columns: string[] | null;
  /** Offset of the first tuple's `(`. */
  rowsAt: number;
}

function readIdent(b: Buffer, at: number): { name: string; end: number } {
  if (b[at] !== Byte.BACKTICK) throw new Error(`expected a backquoted name at byte ${at}`);
  let i = at + 1;
  const parts: Buffer[] = [];
  let from = i;
  for (;;) {
    i = b.indexOf(Byte.BACKTICK, i);
    if (i < 0) throw new Error('unterminated backquoted name');
    if (b[i + 1] === Byte.BACKTICK) {
      parts.push(b.subarray(from, i + 1));
      i += 2;
      from = i;
      continue;
    }
    parts.push(b.subarray(from, i));
    return { name: Buffer.concat(parts).toString('utf8'), end: i + 1 };
  }
}

function skipSpace(b: Buffer, i: number): number {
  while (i < b.length && (b[i] === 0x20 || b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x09)) i++;
  return i;
}

/** `INSERT INTO `t` [(`a`,`b`)] VALUES ` -> its table, column list and where the rows start. */
export function readInsertHead(stmt: Buffer): InsertHead {
  const prefix = 'INSERT INTO ';
  if (stmt.toString('latin1', 0, prefix.length).toUpperCase() !== prefix) throw new Error('not an INSERT INTO statement');
  const t = readIdent(stmt, prefix.length);
  let i = skipSpace(stmt, t.end);
  let columns: string[] | null = null;
  if (stmt[i] === Byte.OPEN) {
    columns = [];
    i = skipSpace(stmt, i + 1);
    for (;;) {
      const c = readIdent(stmt, i);
      columns.push(c.name);
      i = skipSpace(stmt, c.end);
      if (stmt[i] === Byte.COMMA) i = skipSpace(stmt, i + 1);
      else if (stmt[i] === Byte.CLOSE) break;
      else throw new Error(`unexpected byte in the column list of an INSERT into ${t.name}`);
    }
    i = skipSpace(stmt, i + 1);
  }
  if (stmt.toString('latin1', i, i + 6).toUpperCase() !== 'VALUES') throw new Error(`expected VALUES in an INSERT into ${t.name}`);
  return { table: t.name, columns, rowsAt: skipSpace(stmt, i + 6) };
}

/** The bytes of a quoted literal starting at b[at] === `'`, unescaped, and the offset after it. */
function readQuoted(b: Buffer, at: number): { bytes: Buffer; end: number } {
  let i = at + 1;
  const start = i;
  // Fast path: no escape before the closing quote (most values).
  for (; i < b.length; i++) {
    const c = b[i];
    if (c === Byte.BACKSLASH) break;
    if (c === Byte.QUOTE) {
      if (b[i + 1] === Byte.QUOTE) break;
      return { bytes: b.subarray(start, i), end: i + 1 };
    }
  }
  // Find the end first: the copy is sized to this literal, not to the statement.
  let end = i;
  for (; end < b.length; end++) {
    const c = b[end];
    if (c === Byte.BACKSLASH) end++;
    else if (c === Byte.QUOTE) {
      if (b[end + 1] !== Byte.QUOTE) break;
      end++;
    }
  }
  const out = Buffer.allocUnsafe(end - start);
  let n = b.copy(out, 0, start, i);
  for (; i < b.length; i++) {
    const c = b[i] as number;
    if (c === Byte.BACKSLASH) {
      const e = b[++i] as number;
      const u = UNESCAPE[e] as number;
      if (u >= 0) out[n++] = u;
      else {
        if (e === 0x25 || e === 0x5f) out[n++] = Byte.BACKSLASH; // \% \_ are two characters
        out[n++] = e;
      }
    } else if (c === Byte.QUOTE) {
      if (b[i + 1] !== Byte.QUOTE) return { bytes: out.subarray(0, n), end: i + 1 };
      out[n++] = Byte.QUOTE;
      i++;
    } else out[n++] = c;
  }
  throw new Error('unterminated string literal');
}

const NUMBER_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER_TEXT = /^[+-]?\d+$/;

/** A number literal of the file for a column of `codec`. */
function fromNumber(text: string, codec: Codec): SqliteValue {
  switch (codec) {
    case 'integer':
      if (!INTEGER_TEXT.test(text)) throw new Error(`${text} is not an integer`);
      // Up to 15 digits a double is exact, and INTEGER affinity stores it as an integer.
      return text.length <= 15 ? Number(text) : BigInt(text);
    case 'uint64': {
      if (!INTEGER_TEXT.test(text)) throw new Error(`${text} is not an integer`);
      const v = BigInt(text);
      return v > INT64_MAX ? v.toString() : v;
    }
    case 'real': {
      const v = Number(text);
      if (!NUMBER_TEXT.test(text) || !Number.isFinite(v)) throw new Error(`${text} is not a finite number`);
      return v;
    }
    case 'decimal':
    case 'text':
      if (!NUMBER_TEXT.test(text)) throw new Error(`${text} is not a number`);
      return text;
    default:
      throw new Error(`a number (${text}) where a ${codec} value was expected`);
  }
}

function fromBits(digits: string, codec: Codec): SqliteValue {
  if (codec !== 'bit' && codec !== 'bit64') throw new Error(`b'${digits}' where a ${codec} value was expected`);
  if (!/^[01]*$/.test(digits)) throw new Error(`b'${digits}' is not a bit literal`);
  const v = digits === '' ? 0n : BigInt(`0b${digits}`);
  return v > INT64_MAX ? v.toString() : v;
}

function fromString(bytes: Buffer, codec: Codec): SqliteValue {
  switch (codec) {
    case 'blob':
      return Buffer.from(bytes);
    case 'decimal': {
      const text = bytes.toString('latin1');
      if (!NUMBER_TEXT.test(text)) throw new Error(`'${text}' is not a number`);
      return text;
    }
    case 'text':
      return bytes.toString('utf8');
    default:
      return fromNumber(bytes.toString('latin1').trim(), codec);
  }
}

function fromHex(hex: string, codec: Codec): SqliteValue {
  if (codec !== 'blob' && codec !== 'text') throw new Error(`X'…' where a ${codec} value was expected`);
  if (hex.length % 2 !== 0 || !/^[0-9A-Fa-f]*$/.test(hex)) throw new Error('malformed X\'…\' literal');
  return Buffer.from(hex, 'hex');
}

/**
 * The rows of one INSERT statement: for each column position of the statement
 * the codec of its value, or null for a column that is not stored (a generated
 * column's DEFAULT). Calls onRow with one array, reused, per row.
 */
export function decodeRows(stmt: Buffer, rowsAt: number, codecs: readonly (Codec | null)[], onRow: (values: SqliteValue[]) => void): number {
  const b = stmt;
  const n = b.length;
  const width = codecs.filter((c) => c !== null).length;
  const values: SqliteValue[] = new Array<SqliteValue>(width);
  let i = rowsAt;
  let rows = 0;
  const fail = (why: string): never => {
    throw new Error(`row ${rows + 1}: ${why}`);
  };
  for (;;) {
    if (b[i] !== Byte.OPEN) fail(`expected "(" at byte ${i}`);
    i++;
    let out = 0;
    for (let c = 0; c < codecs.length; c++) {
      if (c > 0) {
        if (b[i] !== Byte.COMMA) fail(`expected "," after value ${c} at byte ${i}`);
        i++;
      }
      const codec = codecs[c] as Codec | null;
      const ch = b[i];
      let value: SqliteValue;
      if (ch === Byte.QUOTE) {
        const q = readQuoted(b, i);
        i = q.end;
        value = codec === null ? null : fromString(q.bytes, codec);
      } else if ((ch === 0x58 || ch === 0x78 || ch === 0x62 || ch === 0x42) && b[i + 1] === Byte.QUOTE) {
        const close = b.indexOf(Byte.QUOTE, i + 2);
        if (close < 0) fail('unterminated literal');
        const body = b.toString('latin1', i + 2, close);
        value = codec === null ? null : ch === 0x58 || ch === 0x78 ? fromHex(body, codec) : fromBits(body, codec);
        i = close + 1;
      } else {
        let e = i;
        while (e < n && b[e] !== Byte.COMMA && b[e] !== Byte.CLOSE) e++;
        const word = b.toString('latin1', i, e).trim();
        i = e;
        const upper = word.toUpperCase();
        if (upper === 'NULL') value = null;
        else if (upper === 'DEFAULT') {
          if (codec !== null) fail(`DEFAULT for a stored column (position ${c + 1})`);
          value = null;
        } else if (codec === null) value = null;
        else {
          try {
            value = fromNumber(word, codec);
          } catch (err) {
            return fail(`value ${c + 1}: ${(err as Error).message}`);
          }
        }
      }
      if (codec !== null) values[out++] = value;
    }
    if (b[i] !== Byte.CLOSE) fail(`expected ")" after ${codecs.length} values at byte ${i}`);
    i++;
    rows++;
    onRow(values);
    i = skipSpace(b, i);
    if (i >= n) return rows;
    if (b[i] !== Byte.COMMA) fail(`expected "," between rows at byte ${i}`);
    i = skipSpace(b, i + 1);
  }
}

/** A string as a MariaDB literal: the escapes QUOTE() uses, and CR/LF escaped so a statement stays on its line. */
export function quoteText(s: string): string {
  const escaped = s.replace(/[\\'\0\x1a\r\n]/g, (c) => (c === '\\' ? '\\\\' : c === "'" ? "\\'" : c === '\0' ? '\\0' : c === '\x1a' ? '\\Z' : c === '\r' ? '\\r' : '\\n'));
  // The dump's comma rule: no `),(` or `','` inside a value, so rows split on them.
  return `'${escapeSplitCommasText(escaped)}'`;
}

/** The shortest decimal text that reads back to the same double (what the backup writes for FLOAT/DOUBLE). */
export function realText(v: number): string {
  if (!Number.isFinite(v)) throw new Error(`${v} cannot be stored in MariaDB`);
  return String(v);
}

function integerText(v: SqliteValue, what: string): string {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v).toString();
  if (typeof v === 'string' && INTEGER_TEXT.test(v)) return BigInt(v).toString();
  throw new Error(`${JSON.stringify(typeof v === 'string' ? v : String(v))} is not ${what}`);
}

/** A stored value of a column of `codec` as the literal the backup file would hold. Throws on a value the column cannot take. */
export function sqlLiteral(v: SqliteValue, codec: Codec): string {
  if (v === null) return 'NULL';
  switch (codec) {
    case 'integer':
    case 'uint64':
      return integerText(v, 'an integer');
    case 'bit':
    case 'bit64':
      return `b'${BigInt(integerText(v, 'a bit value')).toString(2)}'`;
    case 'real':
      if (typeof v === 'number') return realText(v);
      if (typeof v === 'bigint') return v.toString();
      break;
    case 'decimal':
      if (typeof v === 'string' && NUMBER_TEXT.test(v)) return v;
      if (typeof v === 'bigint') return v.toString();
      if (typeof v === 'number') return realText(v);
      break;
    case 'text':
      if (typeof v === 'string') return quoteText(v);
      if (Buffer.isBuffer(v)) return `X'${v.toString('hex').toUpperCase()}'`;
      return quoteText(String(v));
    case 'blob':
      if (Buffer.isBuffer(v)) return `X'${v.toString('hex').toUpperCase()}'`;
      if (typeof v === 'string') return `X'${Buffer.from(v, 'utf8').toString('hex').toUpperCase()}'`;
      break;
  }
  throw new Error(`${JSON.stringify(String(v))} is not a ${codec} value`);
}
