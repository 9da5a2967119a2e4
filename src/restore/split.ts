/**
 * Splits SQL text into statements as the `mariadb` client does, streaming:
 * quotes ('…', "…", `…`) with backslash escapes and doubled quotes, comments
 * (-- , #, /* *\/; /*! … *\/ is executable and stays in the statement), and the
 * client's `DELIMITER xx` command of the trigger section. Row data has raw
 * newlines and `;` inside string literals, so nothing is split on lines.
 * Bytes in, bytes out: a statement is never decoded here.
 */
import { Byte } from '../domain/sql-bytes';

const enum S {
  Normal,
  Single,
  Double,
  Backtick,
  LineComment,
  BlockComment,
  /** Inside an INSERT of the one-line layout: it ends at the next newline. */
  InsertLine,
}

const INSERT_PREFIX = Buffer.from('INSERT INTO ');

const isSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === Byte.NL || c === 0x0d || c === 0x0b || c === 0x0c;

const DELIMITER_COMMAND = /^delimiter[ \t]+(\S+)[ \t]*\r?$/i;

export class StatementSplitter {
  private buf: Buffer = Buffer.alloc(0);
  /** Where scanning resumes in buf. */
  private pos = 0;
  /** Start of the current statement in buf. */
  private start = 0;
  private state = S.Normal;
  /** Whether the current statement has anything but whitespace and comments yet. */
  private content = false;
  private delimiter: Buffer = Buffer.from(';');
  /** Statements seen so far (for messages). */
  count = 0;

  /** Bytes of buf in use; past them is spare room for the next chunks of a long statement. */
  private len = 0;
  /** buf is ours (not a caller's chunk): it may be written. */
  private owned = false;

  /**
   * `reuse`: the caller is done with every statement of a push before the next push
   * (the loader copies each into a query packet at once), so one buffer serves the
   * whole file: a 16 MiB statement costs one buffer, not a doubling series of them;
   * and the chunks are copied, so the caller may read every chunk into one buffer.
   *
   * `insertLines`: the text is of the one-line layout (a manifest with statementBytes):
   * every INSERT is one line ending in `;`, its values never holding a raw newline (the
   * dump escapes them, as db_upgrade's line reader needs), which the file's sha256,
   * checked against the manifest, vouches for (a file loaded unchecked that breaks the
   * layout fails as a statement the server or the loader refuses, never as rows lost).
   * Such a statement is found with one memchr for its newline instead of a byte-by-byte
   * scan of its quotes: most of a restore's bytes.
   */
  constructor(private readonly options: { reuse?: boolean; capacity?: number; insertLines?: boolean } = {}) {}

  /**
   * Feeds bytes; returns the statements they complete. A statement longer than
   * a chunk (a table's rows are one statement of up to 16 MiB) grows in a buffer
   * that doubles, so each byte is copied a bounded number of times, not once per
   * chunk. Bytes already handed out are never written over: a new buffer is taken instead.
   */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    const pending = this.len - this.start;
    // A reusing splitter never keeps the caller's chunk: the caller may read into it again.
    if (pending <= 0 && !this.options.reuse) {
      this.buf = chunk;
      this.len = chunk.length;
      this.owned = false;
    } else if (this.owned && (this.start === 0 || this.options.reuse) && pending + chunk.length <= this.buf.length) {
      // Room in our own buffer: the unfinished statement moves to its front (a reused buffer only), the chunk follows.
      if (this.start > 0) this.buf.copy(this.buf, 0, this.start, this.len);
      chunk.copy(this.buf, pending);
      this.len = pending + chunk.length;
    } else {
      // `capacity`: the longest statement expected (and a chunk), so a reused buffer is allocated once, not doubled up to it.
      const next = Buffer.allocUnsafe(Math.max(2 * (pending + chunk.length), this.options.capacity ?? 0, 1 << 16));
      this.buf.copy(next, 0, this.start, this.len);
      chunk.copy(next, pending);
      this.buf = next;
      this.owned = true;
      this.len = pending + chunk.length;
    }
    this.pos -= this.start;
    this.start = 0;
    this.scan(out, false);
    return out;
  }

  /** Ends the input; returns the last statement if it lacked a delimiter. Throws on an unterminated quote. */
  end(): Buffer[] {
    const out: Buffer[] = [];
    this.scan(out, true);
    if (this.state === S.InsertLine) {
      // The last line, without a newline after it.
      let e = this.len;
      while (e > this.start && isSpace(this.buf[e - 1] as number)) e--;
      if (this.buf[e - 1] !== Byte.SEMICOLON) throw new Error(`an INSERT line that does not end in ';' (statement ${this.count + 1})`);
      this.emit(out, e - 1, 1);
      this.state = S.Normal;
    }
    if (this.state === S.Single || this.state === S.Double || this.state === S.Backtick) {
      throw new Error(`unterminated quoted string or identifier after statement ${this.count}`);
    }
    if (this.content) this.emit(out, this.len, 0);
    this.buf = Buffer.alloc(0);
    this.len = 0;
    this.owned = false;
    this.pos = this.start = 0;
    return out;
  }

  private emit(out: Buffer[], end: number, skip: number): void {
    let e = end;
    while (e > this.start && isSpace(this.buf[e - 1] as number)) e--;
    out.push(this.buf.subarray(this.start, e));
    this.count++;
    this.start = end + skip;
    this.content = false;
  }

  /** Scans from pos; stops early when a decision needs bytes not yet received (unless eof). */
  private scan(out: Buffer[], eof: boolean): void {
    const b = this.buf.subarray(0, this.len);
    const n = b.length;
    let i = this.pos;
    let state = this.state;
    const d0 = this.delimiter[0] as number;
    const dlen = this.delimiter.length;
    while (i < n) {
      const c = b[i] as number;
      switch (state) {
        case S.Normal: {
          if (c === d0) {
            if (i + dlen > n && !eof) {
              this.pos = i;
              this.state = state;
              return;
            }
            if (dlen === 1 || b.subarray(i, i + dlen).equals(this.delimiter)) {
              if (this.content) this.emit(out, i, dlen);
              else this.start = i + dlen;
              i += dlen;
              continue;
            }
          }
          if (c === 0x49 && !this.content && this.options.insertLines && dlen === 1 && d0 === Byte.SEMICOLON) {
            if (i + INSERT_PREFIX.length > n && !eof) {
              this.pos = i;
              this.state = state;
              return;
            }
            if (b.subarray(i, i + INSERT_PREFIX.length).equals(INSERT_PREFIX)) {
              this.content = true;
              state = S.InsertLine;
              i += INSERT_PREFIX.length;
              continue;
            }
          }
          if (c === Byte.QUOTE) state = S.Single;
          else if (c === Byte.DQUOTE) state = S.Double;
          else if (c === Byte.BACKTICK) state = S.Backtick;
          else if (c === Byte.HASH) {
            state = S.LineComment;
            i++;
            continue;
          } else if (c === Byte.DASH || c === Byte.SLASH) {
            if (i + 3 >= n && !eof) {
              this.pos = i;
              this.state = state;
              return;
            }
            const c1 = b[i + 1];
            if (c === Byte.DASH && c1 === Byte.DASH && (i + 2 >= n || isSpace(b[i + 2] as number))) {
              state = S.LineComment;
              i += 2;
              continue;
            }
            // /*! … */ and /*M! … */ are executable comments: their text is SQL.
            if (c === Byte.SLASH && c1 === Byte.STAR && b[i + 2] !== Byte.BANG && !(b[i + 2] === 0x4d && b[i + 3] === Byte.BANG)) {
              state = S.BlockComment;
              i += 2;
              continue;
            }
          } else if (!this.content && (c === 0x44 || c === 0x64)) {
            // The client's DELIMITER command: a line of its own where a statement would start.
            let nl = b.indexOf(Byte.NL, i);
            if (nl < 0 && !eof) {
              this.pos = i;
              this.state = state;
              return;
            }
            if (nl < 0) nl = n;
            const m = nl - i < 64 ? DELIMITER_COMMAND.exec(b.subarray(i, nl).toString('utf8')) : null;
            if (m) {
              this.delimiter = Buffer.from(m[1] as string, 'utf8');
              this.start = this.pos = Math.min(nl + 1, n);
              this.state = S.Normal;
              this.scan(out, eof); // the delimiter changed: rescan with it
              return;
            }
          }
          if (!this.content) {
            if (isSpace(c)) this.start = i + 1;
            else this.content = true;
          }
          i++;
          break;
        }
        case S.Single:
        case S.Double:
        case S.Backtick: {
          const q = state === S.Single ? Byte.QUOTE : state === S.Double ? Byte.DQUOTE : Byte.BACKTICK;
          // Fast inner loop: a literal is most of a row file.
          while (i < n) {
            const x = b[i] as number;
            if (x === q) break;
            if (x === Byte.BACKSLASH && q !== Byte.BACKTICK) {
              if (i + 1 >= n && !eof) {
                this.pos = i;
                this.state = state;
                return;
              }
              i += 2;
              continue;
            }
            i++;
          }
          if (i >= n) break;
          // A closing quote, or a doubled one ('' inside '…').
          if (i + 1 >= n && !eof) {
            this.pos = i;
            this.state = state;
            return;
          }
          if (b[i + 1] === q) {
            i += 2;
            continue;
          }
          state = S.Normal;
          i++;
          break;
        }
        case S.InsertLine: {
          const nl = b.indexOf(Byte.NL, i);
          if (nl < 0) {
            i = n;
            break;
          }
          // Spaces or a CR before the newline are allowed, as at the end of the text.
          let e = nl;
          while (e > this.start && isSpace(b[e - 1] as number)) e--;
          if (b[e - 1] !== Byte.SEMICOLON) throw new Error(`an INSERT line that does not end in ';' (statement ${this.count + 1})`);
          this.emit(out, e - 1, nl + 2 - e);
          i = nl + 1;
          state = S.Normal;
          break;
        }
        case S.LineComment: {
          const nl = b.indexOf(Byte.NL, i);
          if (nl < 0) {
            i = n;
            break;
          }
          i = nl + 1;
          state = S.Normal;
          if (!this.content) this.start = i;
          break;
        }
        case S.BlockComment: {
          if (c === Byte.STAR) {
            if (i + 1 >= n && !eof) {
              this.pos = i;
              this.state = state;
              return;
            }
            if (b[i + 1] === Byte.SLASH) {
              i += 2;
              state = S.Normal;
              if (!this.content) this.start = i;
              continue;
            }
          }
          i++;
          break;
        }
      }
    }
    this.pos = i;
    this.state = state;
  }
}

/** Splits a whole text (small files: views, trigger sections, tests). */
export function splitStatements(text: string | Buffer): string[] {
  const s = new StatementSplitter();
  const input = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  return [...s.push(input), ...s.end()].map((b) => b.toString('utf8'));
}
