/**
 * The rows of one INSERT line decoded piece by piece as the file is read
 * (pure): only the unfinished tuple at the end of a piece is carried over, so
 * memory is one read chunk and one row, whatever the statement's size.
 */
import type { Codec } from './type-map';
import { decodeRows, readInsertHead, type InsertHead, type SqliteValue } from './values';
import { Byte } from '../domain/sql-bytes';


/**
 * Offset just after the last complete tuple in b[from..]: values hold no
 * parentheses outside quotes, so a `)` outside a quoted literal ends a tuple.
 * `from` must be at a tuple boundary. Returns `from` when no tuple is complete.
 */
export function lastTupleEnd(b: Buffer, from: number): number {
  let last = from;
  let quoted = false;
  for (let i = from; i < b.length; i++) {
    const c = b[i];
    if (quoted) {
      if (c === Byte.BACKSLASH) i++;
      else if (c === Byte.QUOTE) quoted = false; // a doubled '' closes and reopens: the same state after both
    } else if (c === Byte.QUOTE) quoted = true;
    else if (c === Byte.CLOSE) last = i + 1;
  }
  return last;
}

export class RowLineDecoder {
  private carry: Buffer | null = null;
  private head: InsertHead | null = null;
  rows = 0;

  constructor(
    /** Codecs of the line's values, from its head (column list or none). */
    private readonly codecsFor: (head: InsertHead) => (Codec | null)[],
    private readonly onRow: (values: SqliteValue[]) => void,
  ) {}

  private codecs: (Codec | null)[] = [];

  /** The next piece of the line; `start` on its first, `end` on its last (ending with `;` and the newline). */
  push(piece: Buffer, start: boolean, end: boolean): void {
    if (start) {
      this.carry = null;
      this.head = null;
    }
    let b = this.carry ? Buffer.concat([this.carry, piece]) : piece;
    this.carry = null;
    let at = 0;
    if (this.head === null) {
      // The head (table and column list) is short: wait until a piece holds it all.
      if (!end && b.indexOf(' VALUES ') < 0) {
        this.carry = b;
        return;
      }
      this.head = readInsertHead(b);
      this.codecs = this.codecsFor(this.head);
      at = this.head.rowsAt;
    } else if (b[0] === 0x2c) at = 1; // the `,` between the carried-over tuple's predecessor and it
    if (end) {
      let stop = b.length;
      while (stop > at && (b[stop - 1] === 0x0a || b[stop - 1] === 0x0d || b[stop - 1] === 0x20)) stop--;
      if (b[stop - 1] !== 0x3b) throw new Error('an INSERT line does not end with ";"');
      b = b.subarray(0, stop - 1);
      if (stop - 1 > at) this.rows += decodeRows(b, at, this.codecs, this.onRow);
      this.head = null;
      return;
    }
    const cut = lastTupleEnd(b, at);
    if (cut > at) this.rows += decodeRows(b.subarray(0, cut), at, this.codecs, this.onRow);
    // Copied: the piece it comes from is not kept alive by one row.
    this.carry = cut < b.length ? Buffer.from(b.subarray(cut)) : null;
  }
}
