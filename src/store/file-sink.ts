/**
 * A buffered writer for one backup file: large writes, sha256 of the bytes on
 * disk, and the content checksum that verify recomputes from a restored
 * table. Optionally gzip (each flush is a gzip member; concatenated members
 * are a valid gzip file).
 *
 * Hashing runs on the main thread as the bytes are pushed. A worker thread did
 * it before, but on 2 cores handing it each flush (a message, a copy into
 * shared memory, a wake-up) cost more than the hashing itself, and one copy of
 * every byte goes away: a flush hands its chunks to writev as they are.
 */
import { createHash, type Hash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { StoreError, errorMessage } from '../errors';
import { dropPageCache } from './page-cache';

/** Bytes written between two background datasyncs of a large file. */
const BACKGROUND_SYNC_BYTES = 32 << 20;
const gzip = promisify(gzipCb);
const FLUSH_BYTES = 1 << 20;
const PAGE_BYTES = 4096;

export interface SinkResult {
  path: string;
  /** Bytes on disk. */
  bytes: number;
  /** sha256 (hex) of the bytes on disk. */
  sha256: string;
  /**
   * sha256 (hex) of the uncompressed text from the start of the file through the
   * end of its rows (head and rows, not the triggers and footer); null if no rows
   * section was marked. Verify recomputes it from a restored table: the backup
   * file's head, then the restored rows through the same encoder. It shares its
   * pass over the rows with the file hash (a copy of that hash's state).
   */
  contentSha256: string | null;
}

export interface RowSink {
  /**
   * Appends; returns true when the caller should await flush() before pushing more. The
   * chunk's bytes are written as they are: they must not change until the next flush resolves.
   */
  push(chunk: Buffer | string): boolean;
  flush(): Promise<void>;
  startRows(): void;
  endRows(): void;
}

export class FileSink implements RowSink {
  private chunks: Buffer[] = [];
  private pending = 0;
  private bytes = 0;
  private readonly fileHash = createHash('sha256');
  /** The uncompressed bytes from the start: the file hash itself unless the file is compressed. */
  private readonly plainHash: Hash;
  /** Inside the rows section: endRows() takes the content digest from a copy of plainHash. */
  private inRows = false;
  private contentDigest: string | null = null;
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly handle: fs.FileHandle | null,
    private readonly compress: boolean,
    /** Drop what is on disk from the page cache as it is written (see page-cache.ts). */
    private readonly dropCache = false,
  ) {
    this.plainHash = compress ? createHash('sha256') : this.fileHash;
  }

  /**
   * Opens `path` for writing (0600 unless told otherwise; created fresh). A null path hashes without writing.
   * `dropCache`: for files nothing reads back soon (user-data snapshots), not for those git hashes next.
   */
  static async open(path: string | null, options: { mode?: number; gzip?: boolean; dropCache?: boolean } = {}): Promise<FileSink> {
    if (path === null) return new FileSink('', null, false);
    try {
      const handle = await fs.open(path, 'wx', options.mode ?? 0o600);
      // The mode argument is filtered by the umask; the policy is 0600 whatever the umask.
      await handle.chmod(options.mode ?? 0o600);
      return new FileSink(path, handle, options.gzip ?? false, options.dropCache ?? false);
    } catch (err) {
      throw new StoreError(`cannot create ${path}: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** The chunk is hashed now and written at the next flush (see RowSink.push). */
  push(chunk: Buffer | string): boolean {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    this.plainHash.update(buf);
    this.chunks.push(buf);
    this.pending += buf.length;
    return this.pending >= FLUSH_BYTES;
  }

  startRows(): void {
    this.inRows = true;
    this.contentDigest = null;
  }

  endRows(): void {
    if (this.inRows) this.contentDigest = this.plainHash.copy().digest('hex');
    this.inRows = false;
  }

  /** Writes what was pushed since the last flush. */
  async flush(): Promise<void> {
    if (this.pending === 0) return;
    const chunks = this.chunks;
    this.chunks = [];
    this.pending = 0;
    await this.writeOut(chunks);
  }

  /** Flushes, fsyncs and closes; the file is complete on disk when this resolves. */
  async finish(options: { sync?: boolean } = {}): Promise<SinkResult> {
    await this.flush();
    if (this.handle) {
      try {
        // A caller that may discard the file (unchanged content) syncs only what it keeps.
        await this.syncing;
        if (options.sync ?? true) await this.handle.sync();
      } catch (err) {
        throw new StoreError(`cannot sync ${this.path}: ${errorMessage(err)}`, { cause: err });
      } finally {
        await this.close();
      }
    }
    return { path: this.path, bytes: this.bytes, sha256: this.fileHash.digest('hex'), contentSha256: this.contentDigest };
  }

  /** Closes and removes the partial file; never throws (it runs on error paths). */
  async abort(): Promise<void> {
    await this.close();
    if (this.handle) await fs.rm(this.path, { force: true }).catch(() => undefined);
  }

  /** Compresses if asked (one gzip member per flush), hashes what goes on disk, and writes it. */
  private async writeOut(chunks: Buffer[]): Promise<void> {
    const onDisk = this.compress ? [await gzip(Buffer.concat(chunks))] : chunks;
    if (this.compress) this.fileHash.update(onDisk[0]);
    const length = onDisk.reduce((n, b) => n + b.length, 0);
    this.bytes += length;
    if (!this.handle) return;
    try {
      // The chunks as they are, gathered by the kernel: no copy into one buffer first.
      const { bytesWritten } = await this.handle.writev(onDisk);
      // A disk that fills up mid-write ends it short without an error: writing the rest says why (ENOSPC), or finishes it.
      if (bytesWritten < length) await this.writeRest(Buffer.concat(onDisk).subarray(bytesWritten));
    } catch (err) {
      throw new StoreError(`cannot write ${this.path}: ${errorMessage(err)}`, { cause: err });
    }
    this.startBackgroundSync(length);
  }

  private async writeRest(rest: Buffer): Promise<void> {
    while (rest.length > 0) {
      const { bytesWritten } = await (this.handle as fs.FileHandle).write(rest, 0, rest.length);
      if (bytesWritten === 0) throw new Error(`the write stopped with ${rest.length} bytes left`);
      rest = rest.subarray(bytesWritten);
    }
  }

  private unsyncedBytes = 0;
  /** Bytes from the start of the file already dropped from the page cache. */
  private dropped = 0;
  private syncing: Promise<void> | null = null;

  /**
   * Large files are flushed to disk while they are written: the dump waits on
   * the server most of the time, so the final fsync finds little left to do.
   */
  private startBackgroundSync(written: number): void {
    this.unsyncedBytes += written;
    if (this.unsyncedBytes < BACKGROUND_SYNC_BYTES || this.syncing || !this.handle) return;
    this.unsyncedBytes = 0;
    const handle = this.handle;
    const from = this.dropped;
    // Whole pages only: a partial last page dropped would be read back from disk by the next append.
    const upTo = this.bytes - (this.bytes % PAGE_BYTES);
    this.syncing = handle
      .datasync()
      .then(() => {
        // What is on disk leaves the page cache (see page-cache.ts); a file still open has a valid fd.
        if (this.dropCache && !this.closed && upTo > from) dropPageCache(handle.fd, from, upTo - from);
        this.dropped = upTo;
      })
      .catch(() => undefined) // the final fsync reports any error
      .finally(() => {
        this.syncing = null;
      });
  }

  private async close(): Promise<void> {
    if (this.closed || !this.handle) return;
    this.closed = true;
    await this.syncing;
    await this.handle.close().catch(() => undefined);
  }
}
