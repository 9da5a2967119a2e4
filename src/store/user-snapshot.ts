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
import { LATEST, isSnapshotName, snapshotName } from '../domain/snapshot-name';


export async function readLatestTarget(root: string): Promise<string | null> {
  try {
    const target = await fs.readlink(join(root, LATEST));
    return isSnapshotName(target) ? target : null;
  } catch {
    return null;
  }
}

const taken = (path: string): Promise<boolean> => fs.lstat(path).then(() => true, () => false);

/**
 * A snapshot name no other snapshot has or will take: no complete snapshot
 * has it, and its `.partial` directory is created exclusively (mkdir fails if
 * it exists), so two runs in the same second never share a directory. A taken
 * second gives the next one at once (a name a second or two ahead), rather
 * than a wait for the clock.
 */
async function claimName(root: string, now: () => Date): Promise<string> {
  const start = now().getTime();
  for (let attempt = 0; attempt < 40; attempt++) {
    const name = snapshotName(new Date(start + attempt * 1000));
    if (!(await taken(join(root, name)))) {
      const created = await fs.mkdir(join(root, `${name}.partial`), { mode: 0o700 }).then(
        () => true,
        (err: NodeJS.ErrnoException) => {
          if (err.code === 'EEXIST') return false;
          throw err;
        },
      );
      if (created) return name;
    }
  }
  throw new StoreError(`cannot find a free snapshot name in ${root}: the 40 seconds from now on are all taken (is the clock far behind?); check the system time and run again`);
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
    const name = await claimName(root, now);
    // The snapshot is read again only by a restore, if ever: its files leave the page cache as they are written.
    const tables = new TableDir(join(root, `${name}.partial`), { fileMode: 0o600, dirMode: 0o700, gzip: options.gzip, dropWritten: true });
    await tables.prepare();
    return new UserSnapshotWriter(root, name, tables);
  }

  /**
   * Writes the manifest and makes every file durable, still under the
   * `.partial` name. When its tables are byte for byte those of `latest`, the
   * new copy is dropped: returns false (nothing to promote, `latest` stays).
   */
  async seal(manifest: Manifest): Promise<boolean> {
    try {
      const previous = await readLatestTarget(this.root);
      if (previous && (await this.sameAs(previous, manifest))) {
        await fs.rm(this.tables.dir, { recursive: true, force: true });
        return false;
      }
      await this.tables.writeMeta(MANIFEST_FILE, renderManifest(manifest));
      await this.tables.publish(null);
      return true;
    } catch (err) {
      if (err instanceof StoreError) throw err;
      throw new StoreError(`cannot complete user-data snapshot in ${this.root}: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** What promote() changed, so that unpromote() can take it back. */
  private promoted: { final: string; previousLink: string | null; linked: boolean } | null = null;

  /**
   * Gives the sealed snapshot its final name and points `latest` at it.
   * Undone by unpromote() (a commit that fails after it). On failure it
   * undoes itself and throws StoreError.
   */
  async promote(): Promise<string> {
    const final = join(this.root, this.name);
    const latest = join(this.root, LATEST);
    const previousLink = await fs.readlink(latest).catch(() => null);
    this.promoted = { final, previousLink, linked: false };
    try {
      await fs.rename(this.tables.dir, final);
      await syncDir(this.root);
      await this.pointLatestAt(this.name);
      this.promoted.linked = true;
      return final;
    } catch (err) {
      await this.unpromote();
      throw new StoreError(`cannot complete user-data snapshot in ${this.root}: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Seals and promotes: returns the snapshot's path, or null when it equals `latest` (kept). */
  async complete(manifest: Manifest): Promise<string | null> {
    return (await this.seal(manifest)) ? this.promote() : null;
  }

  /** Points `latest` back where it pointed before promote() and removes the new snapshot. Never throws (error path). */
  async unpromote(): Promise<void> {
    const done = this.promoted;
    if (!done) return;
    this.promoted = null;
    try {
      if (done.linked) {
        if (done.previousLink !== null) await this.pointLatestAt(done.previousLink);
        else await fs.rm(join(this.root, LATEST), { force: true });
      }
    } catch {
      // Best effort: latest then still names a complete snapshot (the new one), which is kept below.
      return;
    }
    await fs.rm(done.final, { recursive: true, force: true }).catch(() => undefined);
    await syncDir(this.root).catch(() => undefined);
  }

  /** Swaps `latest` atomically (a new link renamed over it) and makes it durable. */
  private async pointLatestAt(target: string): Promise<void> {
    const tmpLink = join(this.root, `.${LATEST}.${process.pid}`);
    await fs.rm(tmpLink, { force: true });
    await fs.symlink(target, tmpLink);
    await fs.rename(tmpLink, join(this.root, LATEST));
    await syncDir(this.root);
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
