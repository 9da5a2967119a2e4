/** A RowSink that keeps what it is given, for reading dumped rows without a file. */
import type { RowSink } from '../../src/store/file-sink';

export class MemorySink implements RowSink {
  private chunks: Buffer[] = [];
  flushes = 0;
  push(chunk: Buffer | string): boolean {
    // Copied: the dump reuses its buffers once a flush has returned.
    this.chunks.push(Buffer.from(chunk));
    return false;
  }
  async flush(): Promise<void> {
    this.flushes++;
  }
  startRows(): void {}
  endRows(): void {}
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
  text(encoding: BufferEncoding = 'utf8'): string {
    return this.bytes().toString(encoding);
  }
}
