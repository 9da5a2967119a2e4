/**
 * The statements of a backup file (plain or gzip), streamed in order, while
 * the stored bytes are hashed: what was read is proved to be what the
 * manifest describes, even if the file changed after the check before reading.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline, Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ROWS_MARKER } from '../dump/structure';
import { StatementSplitter } from '../restore/split';

/** 64 KiB: each read is a fresh buffer, dropped once decoded; larger ones piled up between garbage collections. */
const READ_CHUNK = 64 << 10;
const INSERT = Buffer.from('INSERT INTO ');
const ROWS_LINE = Buffer.from(ROWS_MARKER);

/**
 * A piece of a row line (one `INSERT ... VALUES (...),(...);` line), in file
 * order: `start` on the piece that begins it, `end` on the one ending it (with `;\n`).
 * Its bytes are never reused: a reader may keep the piece.
 */
export interface RowPiece {
  piece: Buffer;
  start: boolean;
  end: boolean;
}

export interface StatementStream {
  /** Statements as the mariadb client splits them, and the rows section's lines as RowPieces. */
  statements: AsyncGenerator<Buffer | RowPiece>;
  /** sha256 of the stored bytes read so far (complete once `statements` is exhausted). */
  sha256(): string;
}

/**
 * `onRead`: told the bytes of the file as they are read (before gunzip), for progress. `readBytes`:
 * the size of a read and of a gunzip output (at least 64, zlib's least).
 */
export function fileStatements(path: string, compressed: boolean, onRead?: (bytes: number) => void, readBytes = READ_CHUNK): StatementStream {
  const hash: Hash = createHash('sha256');
  let digest: string | null = null;
  async function* statements(): AsyncGenerator<Buffer | RowPiece> {
    const hashing = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        onRead?.(chunk.length);
        done(null, chunk);
      },
    });
    const input = createReadStream(path, { highWaterMark: readBytes });
    const streams: NodeJS.ReadWriteStream[] = [hashing];
    if (compressed) streams.push(createGunzip({ chunkSize: readBytes }));
    // pipeline: an error anywhere (a missing file, bad gzip) destroys the chain and ends the loop below with it.
    const out = (pipeline as (...s: unknown[]) => NodeJS.ReadableStream)(input, ...streams, () => undefined);
    const splitter = new StatementSplitter();
    let inRows = false;
    // Rows are whole lines (one INSERT each, no raw newline inside: see src/dump/tuples.ts), passed on
    // in pieces as read (RowPiece): a 16 MiB statement is never assembled, which the splitter would do
    // by copying it again at every chunk.
    let rowLine = false;
    function* piece(bytes: Buffer, lineEnd: boolean): Generator<Buffer | RowPiece> {
      if (rowLine) {
        rowLine = !lineEnd;
        yield { piece: bytes, start: false, end: lineEnd };
        return;
      }
      // A read may end inside `INSERT INTO `: a line's start is told once that much of it is there.
      if (inRows && pendingBytes < INSERT.length) {
        if (!lineEnd && pendingBytes + bytes.length < INSERT.length) {
          pending.push(bytes);
          pendingBytes += bytes.length;
          return;
        }
        if (pending.length) {
          bytes = Buffer.concat([...pending, bytes]);
          pending = [];
          pendingBytes = 0;
        }
        if (bytes.subarray(0, INSERT.length).equals(INSERT)) {
          rowLine = !lineEnd;
          yield { piece: bytes, start: true, end: lineEnd };
          return;
        }
      }
      if (!lineEnd) {
        pending.push(bytes);
        pendingBytes += bytes.length;
        return;
      }
      const line = pending.length ? Buffer.concat([...pending, bytes]) : bytes;
      pending = [];
      pendingBytes = 0;
      inRows = line.equals(ROWS_LINE);
      yield* splitter.push(line);
    }
    /** The line read so far, when it is not a row line. */
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    try {
      for await (const chunk of out) {
        const b = chunk as Buffer;
        let from = 0;
        for (let nl = b.indexOf(0x0a); nl >= 0; nl = b.indexOf(0x0a, from)) {
          yield* piece(b.subarray(from, nl + 1), true);
          from = nl + 1;
        }
        // The start of a line that goes on in the next read.
        if (from < b.length) yield* piece(b.subarray(from), false);
      }
      if (rowLine || (inRows && pendingBytes > 0 && pendingBytes < INSERT.length && INSERT.subarray(0, pendingBytes).equals(Buffer.concat(pending)))) {
        throw new Error('the file ends inside an INSERT statement');
      }
      if (pending.length) yield* splitter.push(Buffer.concat(pending));
      yield* splitter.end();
    } finally {
      input.destroy();
    }
  }
  return {
    statements: statements(),
    sha256: () => (digest ??= hash.digest('hex')),
  };
}

/** The CREATE TABLE statement of a backup file: only the file's head is read. */
export async function readCreateTable(path: string, compressed: boolean): Promise<string | null> {
  const { statements } = fileStatements(path, compressed);
  for await (const stmt of statements) {
    if (!Buffer.isBuffer(stmt)) break;
    if (/^CREATE\s+TABLE\s/i.test(stmt.subarray(0, 20).toString('latin1'))) {
      await statements.return(undefined);
      return stmt.toString('utf8');
    }
  }
  return null;
}
