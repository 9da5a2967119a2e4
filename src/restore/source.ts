/**
 * What a backup holds, read from its manifests: the host directory
 * (`csv2_backup_dir/HOST/`: every structure, global rows, views) and one
 * user-data snapshot (local rows). Every file is checked against its
 * manifest's sha256 before anything is loaded.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { SummaryClass } from '../domain/summary';
import { StoreError, VerifyError, errorMessage } from '../errors';
import { parseManifest, type Manifest, type ManifestTable } from '../store/manifest';
import { MANIFEST_FILE } from '../store/names';
import { LATEST, isSnapshotName } from '../domain/snapshot-name';
import { readLatestTarget } from '../store/user-snapshot';

/** One table of the backup and the file its restore reads. */
export interface SourceTable {
  table: string;
  class: SummaryClass;
  /** Absolute path of the file to load (structure, and rows when rowsSaved). */
  path: string;
  /** The file is gzip (user snapshot with user_data_compress: gzip). */
  compressed: boolean;
  rowsSaved: boolean;
  rows: number | null;
  contentSha256: string | null;
  /** The manifest's statement limit (verify cuts restored rows alike); null for the earlier row-per-line layout. */
  statementBytes: number | null;
  sha256: string;
  /** Where the file comes from. */
  origin: 'host' | 'user';
  /** Trigger names, in file order. */
  triggers: string[];
}

export interface BackupSource {
  hostDir: string;
  /** The user snapshot read (its directory), or null when none. */
  snapshotDir: string | null;
  snapshotName: string | null;
  database: string;
  tables: SourceTable[];
  views: { path: string; sha256: string; names: string[] } | null;
}

async function readManifestFile(dir: string): Promise<Manifest> {
  const path = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    const bytes = await fs.readFile(path);
    // A gzip snapshot's writer may compress its manifest too: accept both.
    text = (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString('utf8');
  } catch (err) {
    throw new StoreError(`no backup manifest at ${path}: ${errorMessage(err)}`, { cause: err });
  }
  try {
    return parseManifest(text, path);
  } catch (err) {
    throw new VerifyError(`${path} is not a valid manifest: ${errorMessage(err)}`, { cause: err });
  }
}

/** `latest` or a YYYYmmddHHMMSS name -> the snapshot directory name, or null when there is no snapshot. */
export async function resolveSnapshot(root: string, wanted: string): Promise<string | null> {
  if (wanted === LATEST) return readLatestTarget(root);
  if (!isSnapshotName(wanted)) throw new StoreError(`--snapshot: expected latest or YYYYmmddHHMMSS, got ${JSON.stringify(wanted)}`);
  const exists = await fs.stat(join(root, wanted)).then((s) => s.isDirectory(), () => false);
  if (!exists) throw new StoreError(`no user-data snapshot ${wanted} in ${root}`);
  return wanted;
}

export async function readBackupSource(opts: { hostDir: string; userDataDir: string | null; snapshot: string }): Promise<BackupSource> {
  const host = await readManifestFile(opts.hostDir);
  const snapshotName = opts.userDataDir ? await resolveSnapshot(opts.userDataDir, opts.snapshot) : null;
  const snapshotDir = snapshotName && opts.userDataDir ? join(opts.userDataDir, snapshotName) : null;
  const user = snapshotDir ? await readManifestFile(snapshotDir) : null;
  const userByTable = new Map((user?.tables ?? []).map((t) => [t.table, t]));
  const triggersOf = (table: string) => host.triggers.filter((t) => t.table === table).map((t) => t.name);

  const fromEntry = (e: ManifestTable, dir: string, origin: 'host' | 'user', compressed: boolean, statementBytes: number | undefined): SourceTable => ({
    table: e.table,
    class: e.class,
    path: join(dir, e.file),
    compressed,
    rowsSaved: e.rowsSaved,
    rows: e.rows,
    contentSha256: e.contentSha256,
    statementBytes: statementBytes ?? null,
    sha256: e.sha256,
    origin,
    triggers: triggersOf(e.table),
  });
  const tables = host.tables.map((e) => {
    // A local table's snapshot file has its structure and its rows; the host file only the structure.
    const u = userByTable.get(e.table);
    return u && snapshotDir && user ? fromEntry(u, snapshotDir, 'user', user.compressed, user.statementBytes) : fromEntry(e, opts.hostDir, 'host', false, host.statementBytes);
  });
  return {
    hostDir: opts.hostDir,
    snapshotDir,
    snapshotName,
    database: host.database,
    tables,
    views: host.views ? { path: join(opts.hostDir, host.views.file), sha256: host.views.sha256, names: host.views.names } : null,
  };
}

/** One buffer read into again and again: checking a large backup leaves no megabytes of garbage behind for the restore that follows. */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(1 << 20);
  const file = await fs.open(path, 'r');
  try {
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await file.close();
  }
  return hash.digest('hex');
}

/** Files whose bytes differ from their manifest (or are missing), each with the reason. */
export async function checkFiles(files: { path: string; sha256: string }[]): Promise<{ path: string; problem: string }[]> {
  const bad: { path: string; problem: string }[] = [];
  for (const f of files) {
    try {
      const actual = await sha256OfFile(f.path);
      if (actual !== f.sha256) bad.push({ path: f.path, problem: `sha256 ${actual} differs from the manifest's ${f.sha256}` });
    } catch (err) {
      bad.push({ path: f.path, problem: `cannot be read: ${errorMessage(err)}` });
    }
  }
  return bad;
}
