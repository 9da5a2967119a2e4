/**
 * The statements of a backup file (plain or gzip), streamed in order, while
 * the stored bytes are hashed: what was read is proved to be what the
 * manifest describes, even if the file changed after the check before reading.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline, Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { StatementSplitter } from '../restore/split';

const READ_CHUNK = 1 << 20;

export interface StatementStream {
  statements: AsyncGenerator<Buffer>;
  /** sha256 of the stored bytes read so far (complete once `statements` is exhausted). */
  sha256(): string;
}

export function fileStatements(path: string, compressed: boolean): StatementStream {
  const hash: Hash = createHash('sha256');
  let digest: string | null = null;
  async function* statements(): AsyncGenerator<Buffer> {
    const hashing = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    });
    const input = createReadStream(path, { highWaterMark: READ_CHUNK });
    const streams: NodeJS.ReadWriteStream[] = [hashing];
    if (compressed) streams.push(createGunzip({ chunkSize: READ_CHUNK }));
    // pipeline: an error anywhere (a missing file, bad gzip) destroys the chain and ends the loop below with it.
    const out = (pipeline as (...s: unknown[]) => NodeJS.ReadableStream)(input, ...streams, () => undefined);
    const splitter = new StatementSplitter();
    try {
      for await (const chunk of out) yield* splitter.push(chunk as Buffer);
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
    if (/^CREATE\s+TABLE\s/i.test(stmt.subarray(0, 20).toString('latin1'))) {
      await statements.return(undefined);
      return stmt.toString('utf8');
    }
  }
  return null;
}
