/**
 * GET /v1/backups/{snapshot|latest}/archive: one backup as a tar.gz that
 * `schema_restore --archive FILE` restores directly.
 *
 * Layout: src/store/archive-layout.ts.
 *
 * Consistency: openArchive runs under the run lock, so no backup is between
 * publishing host files and completing its snapshot; it opens every file
 * there, and the lock is released before streaming. A later run replaces host
 * files by rename and retention unlinks snapshots: open descriptors keep the
 * bytes they were opened on, so a slow download never mixes two backups.
 * The host files are those of the newest backup: for `latest` (and the
 * snapshot it names) that is its own run's; for an older snapshot it is what
 * `schema_restore --snapshot NAME` would restore with it now.
 */
import { once } from 'node:events';
import { promises as fs, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { isAbsolute, join, normalize, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { createGzip, gunzipSync } from 'node:zlib';
import { pack as tarPack } from 'tar-stream';
import { errorMessage } from '../errors';
import type { Logger } from '../log';
import { parseManifest } from '../store/manifest';
import { ARCHIVE_HOST_ROOT, ARCHIVE_INFO, ARCHIVE_USER_ROOT, type ArchiveInfo } from '../store/archive-layout';
import { MANIFEST_FILE } from '../store/names';
import { LATEST, isSnapshotName, isSnapshotRef } from '../domain/snapshot-name';
import { readLatestTarget } from '../store/user-snapshot';


interface Entry {
  name: string;
  handle: FileHandle;
  stat: Stats;
}

export interface OpenedArchive {
  info: ArchiveInfo;
  entries: Entry[];
  /** Closes every descriptor; idempotent. */
  close(): Promise<void>;
}

export class NotFound extends Error {}

/** A manifest's file name must stay inside its directory (a tampered manifest must not export /etc/shadow). */
export function safeRelative(file: string): boolean {
  if (file === '' || file.includes('\0') || isAbsolute(file)) return false;
  const n = normalize(file);
  return n === file && n !== '..' && !n.startsWith(`..${sep}`) && n !== '.';
}

async function openAll(dir: string, files: readonly string[], prefix: string, into: Entry[]): Promise<void> {
  for (const file of files) {
    if (!safeRelative(file)) throw new Error(`${join(dir, MANIFEST_FILE)} names a file outside its directory: ${JSON.stringify(file)}`);
    const handle = await fs.open(join(dir, file), 'r');
    into.push({ name: `${prefix}/${file}`, handle, stat: await handle.stat() });
    if (!into[into.length - 1]?.stat.isFile()) throw new Error(`${join(dir, file)} is not a regular file`);
  }
}

function filesOf(manifestText: string, source: string): string[] {
  const m = parseManifest(manifestText, source);
  return [...m.tables.map((t) => t.file), ...(m.views ? [m.views.file] : [])];
}

/**
 * Opens every file of one backup; call it under the run lock. NotFound when
 * there is no such snapshot (or no backup of the host yet). `wanted` must
 * have passed isSnapshotRef.
 */
export async function openArchive(o: { csv2BackupDir: string; hostName: string; userDataDir: string | null; wanted: string; now?: Date }): Promise<OpenedArchive> {
  if (!isSnapshotRef(o.wanted)) throw new NotFound(`no snapshot ${JSON.stringify(o.wanted)}`);
  let snapshot: string | null = null;
  if (o.wanted === LATEST) snapshot = o.userDataDir ? await readLatestTarget(o.userDataDir) : null;
  else {
    const isDir = o.userDataDir && isSnapshotName(o.wanted) ? await fs.stat(join(o.userDataDir, o.wanted)).then((s) => s.isDirectory(), () => false) : false;
    if (!isDir) throw new NotFound(`no user-data snapshot ${o.wanted}`);
    snapshot = o.wanted;
  }
  const hostDir = join(o.csv2BackupDir, o.hostName);
  const entries: Entry[] = [];
  const close = async () => {
    await Promise.all(entries.splice(0).map((e) => e.handle.close().catch(() => undefined)));
  };
  try {
    let hostManifest: string;
    try {
      hostManifest = await fs.readFile(join(hostDir, MANIFEST_FILE), 'utf8');
    } catch {
      throw new NotFound(`no backup of host ${o.hostName} yet (${join(hostDir, MANIFEST_FILE)})`);
    }
    const hostPrefix = `${ARCHIVE_HOST_ROOT}/${o.hostName}`;
    await openAll(hostDir, [MANIFEST_FILE, ...filesOf(hostManifest, hostDir)], hostPrefix, entries);
    if (snapshot && o.userDataDir) {
      const dir = join(o.userDataDir, snapshot);
      const bytes = await fs.readFile(join(dir, MANIFEST_FILE));
      // A gzip snapshot's manifest may be compressed itself.
      const text = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes).toString('utf8') : bytes.toString('utf8');
      await openAll(dir, [MANIFEST_FILE, ...filesOf(text, dir)], `${ARCHIVE_USER_ROOT}/${snapshot}`, entries);
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { info: { format: 1, hostName: o.hostName, snapshot, createdAt: (o.now ?? new Date()).toISOString() }, entries, close };
}

/** Writes one entry's bytes into the pack, waiting whenever the gzip/socket side is full. */
async function copyEntry(pack: ReturnType<typeof tarPack>, e: Entry): Promise<void> {
  let done: (err?: Error | null) => void = () => undefined;
  const finished = new Promise<void>((resolve, reject) => (done = (err) => (err ? reject(err) : resolve())));
  const sink = pack.entry({ name: e.name, size: e.stat.size, mode: 0o600, mtime: e.stat.mtime, type: 'file' }, (err) => done(err));
  let left = e.stat.size;
  let position = 0;
  while (left > 0) {
    // A fresh buffer per read: the pack may still hold the previous one.
    const chunk = Buffer.allocUnsafe(Math.min(1 << 20, left));
    const { bytesRead } = await e.handle.read(chunk, 0, chunk.length, position);
    if (bytesRead === 0) throw new Error(`${e.name}: file shrank while being archived`);
    position += bytesRead;
    left -= bytesRead;
    if (!sink.write(bytesRead === chunk.length ? chunk : chunk.subarray(0, bytesRead))) await once(sink, 'drain');
  }
  (sink as unknown as { end(): void }).end();
  await finished;
}

/**
 * The gzip stream of the archive, produced as it is read: one file's chunk
 * at a time, never the whole archive in memory. Closes the descriptors when
 * done, failed, or when the consumer destroys the stream (client gone).
 */
export function archiveStream(a: OpenedArchive, log: Logger): Readable {
  const pack = tarPack();
  const gzip = createGzip({ level: 6 });
  pack.on('error', (err: Error) => gzip.destroy(err));
  pack.pipe(gzip);
  let aborted = false;
  gzip.on('close', () => {
    aborted = true;
    void a.close();
  });
  void (async () => {
    try {
      pack.entry({ name: ARCHIVE_INFO, mode: 0o600, mtime: new Date(a.info.createdAt), type: 'file' }, `${JSON.stringify(a.info, null, 2)}\n`);
      for (const e of a.entries) {
        if (aborted) return;
        await copyEntry(pack, e);
      }
      pack.finalize();
    } catch (err) {
      if (!aborted) log.error('archive failed while streaming', { err: errorMessage(err) });
      gzip.destroy(err instanceof Error ? err : new Error(String(err)));
    } finally {
      await a.close();
    }
  })();
  return gzip;
}
