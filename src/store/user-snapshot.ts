/**
 * Private, timestamped user-data snapshots: `ROOT/YYYYmmddHHMMSS/`, written as
 * `ROOT/YYYYmmddHHMMSS.partial/` and renamed only once every file is synced,
 * then `ROOT/latest` is swapped atomically. A crash leaves only a `.partial`
 * directory, which never looks complete and is removed by the next run.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log';
import { StoreError, errorMessage } from '../errors';
import { ensureDir, syncDir } from './fsutil';
import { type Manifest, parseManifest, renderManifest } from './manifest';
import { MANIFEST_FILE } from './names';
import { TableDir } from './table-dir';

export const LATEST = 'latest';
const SNAPSHOT_NAME = /^\d{14}$/;

/** UTC, so names sort in time order across DST changes. */
export function snapshotName(now: Date): string {
  return now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

export function isSnapshotName(name: string): boolean {
  return SNAPSHOT_NAME.test(name);
}

export async function readLatestTarget(root: string): Promise<string | null> {
  try {
    const target = await fs.readlink(join(root, LATEST));
    return isSnapshotName(target) ? target : null;
  } catch {
    return null;
  }
}

export class UserSnapshotWriter {
  private constructor(
    readonly root: string,
    readonly name: string,
    readonly tables: TableDir,
  ) {}

  get partialDir(): string {
    return this.tables.dir;
  }

  static async begin(root: string, options: { gzip: boolean; log: Logger; now?: () => Date }): Promise<UserSnapshotWriter> {
    // Created private; an existing directory's mode is the operator's choice, but a readable one is reported.
    if (!(await fs.stat(root).then(() => true, () => false))) await ensureDir(root, 0o700);
    else await ensureDir(root);
    const stat = await fs.stat(root);
    if (stat.mode & 0o077) {
      options.log.warn('user_data_backup_dir is readable by group or others; snapshots inside stay 0700', {
        dir: root,
        mode: (stat.mode & 0o777).toString(8),
      });
    }
    const latest = await fs.lstat(join(root, LATEST)).catch(() => null);
    if (latest && !latest.isSymbolicLink()) {
      throw new StoreError(`${join(root, LATEST)} exists and is not a symbolic link; move it away and run again`);
    }
    for (const entry of await fs.readdir(root)) {
      if (entry.endsWith('.partial')) {
        // We hold the run lock: any partial snapshot belongs to an interrupted run.
        options.log.warn('removing incomplete snapshot of an interrupted run', { dir: join(root, entry) });
        await fs.rm(join(root, entry), { recursive: true, force: true });
      }
    }
    const now = options.now ?? (() => new Date());
    let name = snapshotName(now());
    while (await fs.stat(join(root, name)).then(() => true, () => false)) {
      await new Promise((r) => setTimeout(r, 250)); // two runs in one second: wait for a fresh name
      name = snapshotName(now());
    }
    const tables = new TableDir(join(root, `${name}.partial`), { fileMode: 0o600, dirMode: 0o700, gzip: options.gzip });
    await tables.prepare();
    return new UserSnapshotWriter(root, name, tables);
  }

  /**
   * Seals the snapshot and points `latest` at it. When its tables are byte for byte
   * those of `latest`, the new copy is dropped and `latest` stays: returns null.
   */
  async complete(manifest: Manifest): Promise<string | null> {
    try {
      const previous = await readLatestTarget(this.root);
      if (previous && (await this.sameAs(previous, manifest))) {
        await fs.rm(this.tables.dir, { recursive: true, force: true });
        return null;
      }
      await this.tables.writeMeta(MANIFEST_FILE, renderManifest(manifest));
      await this.tables.publish(null);
      const final = join(this.root, this.name);
      await fs.rename(this.tables.dir, final);
      await syncDir(this.root);
      const tmpLink = join(this.root, `.${LATEST}.${process.pid}`);
      await fs.rm(tmpLink, { force: true });
      await fs.symlink(this.name, tmpLink);
      await fs.rename(tmpLink, join(this.root, LATEST));
      await syncDir(this.root);
      return final;
    } catch (err) {
      if (err instanceof StoreError) throw err;
      throw new StoreError(`cannot complete user-data snapshot in ${this.root}: ${errorMessage(err)}`, { cause: err });
    }
  }

  private async sameAs(previous: string, manifest: Manifest): Promise<boolean> {
    try {
      const old = parseManifest(await fs.readFile(join(this.root, previous, MANIFEST_FILE), 'utf8'), previous);
      const key = (m: Manifest) => JSON.stringify(m.tables.map((t) => [t.table, t.sha256]).sort()) + String(m.compressed);
      return key(old) === key(manifest);
    } catch {
      return false;
    }
  }

  /** Removes the partial snapshot; never throws (error path). */
  async abort(): Promise<void> {
    await fs.rm(this.tables.dir, { recursive: true, force: true }).catch(() => undefined);
  }
}
