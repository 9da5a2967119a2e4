/**
 * A buffered writer for one backup file: large writes, sha256 of the bytes on
 * disk, and the content checksum that verify recomputes from a restored
 * table. Optionally gzip (each flush is a gzip member; concatenated members
 * are a valid gzip file). Hashing runs on
 * a worker thread (src/store/hash-thread.ts), in the order of the writes.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { StoreError, errorMessage } from '../errors';
import { OffThreadHash, SLOT_BYTES, acquireSlot, hashBytes, hashDigest, hashSlot, type HashPart } from './hash-thread';

/** Bytes written between two background datasyncs of a large file. */
const BACKGROUND_SYNC_BYTES = 32 << 20;
const gzip = promisify(gzipCb);
const FLUSH_BYTES = 1 << 20;

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
  /** Appends; returns true when the caller should await flush() before pushing more. */
  push(chunk: Buffer | string): boolean;
  flush(): Promise<void>;
  startRows(): void;
  endRows(): void;
}

export class FileSink implements RowSink {
  private chunks: Buffer[] = [];
  private pending = 0;
  private bytes = 0;
  private readonly fileHash = new OffThreadHash();
  /** The uncompressed bytes from the start: the file hash itself unless the file is compressed. */
  private readonly plainHash: OffThreadHash;
  /** Becomes a copy of plainHash where the rows end (see SinkResult.contentSha256): one pass over the bytes. */
  private contentHash: OffThreadHash | null = null;
  private contentDigest: Promise<string> | null = null;
  private closed = false;
  /** Flushes so far: a file written in one go (most of them) is hashed inline, without the worker's round trips. */
  private flushes = 0;
  private inlineFileDigest: string | null = null;

  private constructor(
    readonly path: string,
    private readonly handle: fs.FileHandle | null,
    private readonly compress: boolean,
  ) {
    this.plainHash = compress ? new OffThreadHash() : this.fileHash;
  }

  /** Opens `path` for writing (0600 unless told otherwise; created fresh). A null path hashes without writing. */
  static async open(path: string | null, options: { mode?: number; gzip?: boolean } = {}): Promise<FileSink> {
    if (path === null) return new FileSink('', null, false);
    try {
      const handle = await fs.open(path, 'wx', options.mode ?? 0o600);
      // The mode argument is filtered by the umask; the policy is 0600 whatever the umask.
      await handle.chmod(options.mode ?? 0o600);
      return new FileSink(path, handle, options.gzip ?? false);
    } catch (err) {
      throw new StoreError(`cannot create ${path}: ${errorMessage(err)}`, { cause: err });
    }
  }

  push(chunk: Buffer | string): boolean {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    this.chunks.push(buf);
    this.pending += buf.length;
    return this.pending >= FLUSH_BYTES;
  }

  startRows(): void {
    this.contentHash = new OffThreadHash();
    this.rowsUntil = null;
  }

  endRows(): void {
    if (this.contentHash) this.rowsUntil = this.pending;
  }

  /** Where the rows end, as an offset into the pending data; null until endRows(). */
  private rowsUntil: number | null = null;

  private digestContent(): void {
    this.contentDigest = this.contentHash ? hashDigest(this.contentHash) : null;
    // Awaited in finish(); an aborted sink never awaits it, and that must not be an unhandled rejection.
    this.contentDigest?.catch(() => undefined);
    this.contentHash = null;
    this.rowsUntil = null;
  }

  /** The hash parts of `length` uncompressed bytes: a fork of plainHash into contentHash where the rows end. */
  private plainParts(length: number): HashPart[] {
    const plain = this.plainHash;
    const content = this.rowsUntil !== null ? this.contentHash : null;
    if (!content) return [{ hash: plain, from: 0, to: length }];
    const at = this.rowsUntil as number;
    return [
      { hash: plain, from: 0, to: at },
      { hash: content, from: at, to: at, forkOf: plain },
      { hash: plain, from: at, to: length },
    ];
  }

  async flush(): Promise<void> {
    if (this.pending === 0) return;
    this.flushes++;
    const length = this.pending;
    // Assembled straight into shared memory the hash worker reads: one copy, fixed memory.
    const slot = length <= SLOT_BYTES ? await acquireSlot() : null;
    const data = slot ? slot.buf.subarray(0, length) : Buffer.allocUnsafe(length);
    let at = 0;
    for (const chunk of this.chunks) at += chunk.copy(data, at);
    this.chunks = [];
    this.pending = 0;
    const parts = this.plainParts(length);
    const forked = this.rowsUntil !== null && this.contentHash !== null;
    let onDisk: Buffer;
    try {
      onDisk = await this.writeOut(data);
    } catch (err) {
      if (slot) hashSlot(slot.slot, 0, []); // gives the slot back
      throw err;
    }
    if (this.compress) await hashBytes(onDisk, [{ hash: this.fileHash, from: 0, to: onDisk.length }]);
    // Only after the write: from here the worker owns the slot.
    if (slot) hashSlot(slot.slot, length, parts);
    else await hashBytes(data, parts);
    if (forked) this.digestContent();
  }

  /** Flushes, fsyncs and closes; the file is complete on disk when this resolves. */
  async finish(options: { sync?: boolean } = {}): Promise<SinkResult> {
    if (this.flushes === 0) await this.writeWhole();
    else {
      await this.flush();
      // The rows ended exactly where the last flush did: fork now, after every update.
      if (this.rowsUntil !== null && this.contentHash) {
        await hashBytes(Buffer.alloc(0), this.plainParts(0));
        this.digestContent();
      }
      // A compressed file's plain hash is only a source of forks: let the worker drop it.
      if (this.compress) hashDigest(this.plainHash).catch(() => undefined);
    }
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
    const sha256 = this.inlineFileDigest ?? (await hashDigest(this.fileHash));
    return { path: this.path, bytes: this.bytes, sha256, contentSha256: this.contentDigest ? await this.contentDigest : null };
  }

  /** The whole file in one write, hashed here: for small files the worker's latency outweighs the hashing. */
  private async writeWhole(): Promise<void> {
    const data = Buffer.concat(this.chunks, this.pending);
    this.chunks = [];
    this.pending = 0;
    if (this.contentHash && this.rowsUntil !== null) {
      this.contentDigest = Promise.resolve(createHash('sha256').update(data.subarray(0, this.rowsUntil)).digest('hex'));
      this.contentHash = null;
      this.rowsUntil = null;
    }
    const onDisk = await this.writeOut(data);
    this.inlineFileDigest = createHash('sha256').update(onDisk).digest('hex');
  }

  /** Closes and removes the partial file; never throws (it runs on error paths). */
  async abort(): Promise<void> {
    // Lets the worker drop the running hashes (if it ever saw them).
    if (this.flushes > 0) for (const h of new Set([this.fileHash, this.plainHash, this.contentHash])) if (h) hashDigest(h).catch(() => undefined);
    await this.close();
    if (this.handle) await fs.rm(this.path, { force: true }).catch(() => undefined);
  }

  /** Compresses if asked, writes, and returns the bytes as they are on disk. */
  private async writeOut(data: Buffer): Promise<Buffer> {
    const onDisk = this.compress ? await gzip(data) : data;
    this.bytes += onDisk.length;
    if (!this.handle) return onDisk;
    try {
      await this.handle.write(onDisk);
    } catch (err) {
      throw new StoreError(`cannot write ${this.path}: ${errorMessage(err)}`, { cause: err });
    }
    this.startBackgroundSync(onDisk.length);
    return onDisk;
  }

  private unsyncedBytes = 0;
  private syncing: Promise<void> | null = null;

  /**
   * Large files are flushed to disk while they are written: the dump waits on
   * the server most of the time, so the final fsync finds little left to do.
   */
  private startBackgroundSync(written: number): void {
    this.unsyncedBytes += written;
    if (this.unsyncedBytes < BACKGROUND_SYNC_BYTES || this.syncing || !this.handle) return;
    this.unsyncedBytes = 0;
    this.syncing = this.handle
      .datasync()
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
