/**
 * The rows of one INSERT line decoded piece by piece as the file is read
 * (pure): only the unfinished tuple at the end of a piece is carried over, so
 * memory is one read chunk and one row, whatever the statement's size.
 */
import type { Codec } from './type-map';
import { decodeRows, readInsertHead, type InsertHead, type SqliteValue } from './values';
import { Byte } from '../domain/sql-bytes';


/** Where a scan of tuples stopped: inside a quoted literal, and right after a backslash there. */
export interface TupleScan {
  quoted: boolean;
  escaped: boolean;
}

/**
 * Scans b[from..] on from `scan` (updated to where b ends): the offset just after
 * the last complete tuple, or -1. Values hold no parentheses outside quotes, so a
 * `)` outside a quoted literal ends a tuple; `from` must be at a tuple boundary
 * or where an earlier piece's scan stopped.
 */
export function scanTupleEnds(b: Buffer, from: number, scan: TupleScan): number {
  let last = -1;
  let quoted = scan.quoted;
  let i = from;
  // The byte escaped by a backslash that ended the previous piece.
  if (scan.escaped && i < b.length) {
    scan.escaped = false;
    i++;
  }
  for (; i < b.length; i++) {
    const c = b[i];
    if (quoted) {
      if (c === Byte.BACKSLASH) {
        if (i + 1 === b.length) scan.escaped = true;
        i++;
      } else if (c === Byte.QUOTE) quoted = false; // a doubled '' closes and reopens: the same state after both
    } else if (c === Byte.QUOTE) quoted = true;
    else if (c === Byte.CLOSE) last = i + 1;
  }
  scan.quoted = quoted;
  return last;
}

/** The head of an INSERT line if `b` holds all of it and the first byte after (a name may hold ` VALUES `), else null. */
function wholeHead(b: Buffer): InsertHead | null {
  if (b.indexOf(' VALUES ') < 0) return null;
  try {
    const head = readInsertHead(b);
    return head.rowsAt < b.length ? head : null;
  } catch {
    return null;
  }
}

export class RowLineDecoder {
  /**
   * The line's bytes not decoded yet, in pieces: the head until it is whole, then
   * an unfinished tuple. Joined only when a tuple completes: a row of many pieces
   * is copied once, not once per piece.
   */
  private parts: Buffer[] = [];
  private scan: TupleScan = { quoted: false, escaped: false };
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
      this.parts = [];
      this.head = null;
    }
    if (this.head !== null) return this.rowsPiece(piece, end);
    const b = this.joined(piece);
    // The head (table and column list) is short: wait until the pieces hold it all.
    const head = end ? readInsertHead(b) : wholeHead(b);
    if (head === null) {
      this.parts = [b];
      return;
    }
    this.head = head;
    this.codecs = this.codecsFor(this.head);
    this.scan = { quoted: false, escaped: false };
    this.rowsPiece(b.subarray(this.head.rowsAt), end);
  }

  /** Rows: the parts left over start at a tuple boundary (maybe at the `,` before it). */
  private rowsPiece(piece: Buffer, end: boolean): void {
    if (end) {
      let b = this.joined(piece);
      const at = b[0] === Byte.COMMA ? 1 : 0;
      let stop = b.length;
      while (stop > at && (b[stop - 1] === 0x0a || b[stop - 1] === 0x0d || b[stop - 1] === 0x20)) stop--;
      if (b[stop - 1] !== Byte.SEMICOLON) throw new Error('an INSERT line does not end with ";"');
      b = b.subarray(0, stop - 1);
      if (stop - 1 > at) this.rows += decodeRows(b, at, this.codecs, this.onRow);
      this.head = null;
      return;
    }
    const last = scanTupleEnds(piece, 0, this.scan);
    if (last < 0) {
      if (piece.length > 0) this.parts.push(piece);
      return;
    }
    const b = this.joined(piece.subarray(0, last));
    this.rows += decodeRows(b, b[0] === Byte.COMMA ? 1 : 0, this.codecs, this.onRow);
    // Copied: the piece it comes from is not kept alive by one row.
    if (last < piece.length) this.parts.push(Buffer.from(piece.subarray(last)));
  }

  /** The parts carried over and `piece`, as one buffer; the parts are taken. */
  private joined(piece: Buffer): Buffer {
    const b = this.parts.length ? Buffer.concat([...this.parts, piece]) : piece;
    this.parts = [];
    return b;
  }
}
