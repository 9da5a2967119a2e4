/**
 * A directory of table files (the host directory, a user-data snapshot, the
 * ephemeral directory). Each file is written to a temporary name; at publish()
 * the ones whose content changed are synced and renamed into place: an
 * unchanged run writes nothing.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { StoreError, errorMessage } from '../errors';
import { FileSink, type RowSink } from './file-sink';
import { fileSha256, ensureDir, syncDir, syncFile } from './fsutil';
import { META_DIR, TMP_DIR } from './names';
import { rowChanges, type RowChanges } from './row-changes';

/** Files larger than this are not compared row by row for the commit message (memory). */
const ROW_CHANGES_MAX_BYTES = 64 << 20;

/** Files synced at once: enough to overlap the waits, few enough for any fd limit. */
const SYNC_BATCH = 16;

export interface TableFileSpec {
  table: string;
  /** File name within the directory (from tableFileName). */
  file: string;
  head: string;
  tail: string;
  /** Writes the rows section; returns the row and statement counts. Absent for structure-only files. */
  rows?: (sink: RowSink) => Promise<{ rows: number; statements: number }>;
  /** schema_backup's own files stay plain even in a compressed directory. */
  plain?: boolean;
}

export interface WrittenFile {
  table: string;
  file: string;
  bytes: number;
  sha256: string;
  contentSha256: string | null;
  rows: number | null;
  /** INSERT statements in the file (null: no rows section). */
  statements: number | null;
  /** False when the file on disk already had exactly this content. */
  changed: boolean;
  /** Where the new content waits until publish() (null when unchanged). */
  stagedPath: string | null;
}

/** Files moved into place that can still be taken back (until settle()). */
export interface Publication {
  /** Plain files removed (tables dropped or now ignored), sorted. */
  removed: string[];
  /** Puts every replaced or removed file back and removes the new ones. Throws StoreError if it cannot. */
  undo(): Promise<void>;
  /** Drops the kept previous files: the publication is final. */
  settle(): Promise<void>;
}

export interface TableDirOptions {
  fileMode: number;
  dirMode?: number;
  gzip?: boolean;
  /** Files leave the page cache as they reach the disk: nothing reads them back soon (see page-cache.ts). */
  dropWritten?: boolean;
}

export class TableDir {
  private seq = 0;
  constructor(
    readonly dir: string,
    private readonly options: TableDirOptions,
  ) {}

  async prepare(): Promise<void> {
    await ensureDir(this.dir, this.options.dirMode);
    await ensureDir(join(this.dir, META_DIR), this.options.dirMode);
    // Temporary files of an interrupted run are never complete files: drop them.
    await fs.rm(join(this.dir, TMP_DIR), { recursive: true, force: true });
    await ensureDir(join(this.dir, TMP_DIR), this.options.dirMode ?? 0o755);
  }

  async write(spec: TableFileSpec): Promise<WrittenFile> {
    const target = join(this.dir, spec.file);
    const tmp = join(this.dir, TMP_DIR, `${process.pid}-${this.seq++}`);
    const sink = await FileSink.open(tmp, { mode: this.options.fileMode, gzip: this.options.gzip && !spec.plain, dropCache: this.options.dropWritten });
    let rows: number | null = null;
    let statements: number | null = null;
    let result;
    try {
      sink.push(spec.head);
      if (spec.rows) {
        sink.startRows();
        ({ rows, statements } = await spec.rows(sink));
        sink.endRows();
      }
      sink.push(spec.tail);
      result = await sink.finish({ sync: false });
    } catch (err) {
      await sink.abort();
      throw err;
    }
    const previous = await fileSha256(target).catch(() => null);
    const changed = previous !== result.sha256;
    // Nothing lands in the directory before publish(): a failed run leaves it as the last good run left it.
    if (changed) this.staged.push({ tmp, target });
    else await fs.rm(tmp, { force: true });
    return { table: spec.table, file: spec.file, bytes: changed ? result.bytes : 0, sha256: result.sha256, contentSha256: result.contentSha256, rows, statements, changed, stagedPath: changed ? tmp : null };
  }

  private staged: { tmp: string; target: string }[] = [];
  /** schema_backup's own files to remove at publish() (relative names). */
  private removals: string[] = [];

  /** Rows added, changed and removed by a staged file against the published one; null when unchanged or too large to compare. */
  async rowChangesOf(w: WrittenFile, keyColumns: readonly number[]): Promise<RowChanges | null> {
    if (!w.stagedPath || w.bytes > ROW_CHANGES_MAX_BYTES) return null;
    const target = join(this.dir, w.file);
    const size = await fs.stat(target).then((st) => st.size, () => 0);
    if (size > ROW_CHANGES_MAX_BYTES) return null;
    const before = size > 0 ? await fs.readFile(target, 'utf8') : '';
    return rowChanges(before, await fs.readFile(w.stagedPath, 'utf8'), keyColumns);
  }

  /** Moves every changed file into place, removes files no longer planned, and makes it durable. Returns the removed names. */
  async publish(keep: ReadonlySet<string> | null): Promise<string[]> {
    const publication = await this.publishUndoable(keep);
    await publication.settle();
    return publication.removed;
  }

  /**
   * Like publish(), but every file it replaces or removes is kept aside (in
   * the temporary directory) until settle(): undo() puts the directory back
   * exactly as it was, for a commit that fails after the files moved. A
   * failure while publishing undoes what was done and throws StoreError.
   */
  async publishUndoable(keep: ReadonlySet<string> | null): Promise<Publication> {
    const aside = join(this.dir, TMP_DIR, 'previous');
    /** In the order done: a target and where its previous content waits (null: there was none). */
    const journal: { target: string; saved: string | null }[] = [];
    const putAside = async (target: string): Promise<void> => {
      const saved = join(aside, String(journal.length));
      const moved = await fs.rename(target, saved).then(
        () => true,
        (err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return false;
          throw err;
        },
      );
      journal.push({ target, saved: moved ? saved : null });
    };
    const undo = async (): Promise<void> => {
      for (const { target, saved } of journal.reverse()) {
        if (saved) await fs.rename(saved, target);
        else await fs.rm(target, { force: true });
      }
      journal.length = 0;
      await this.settleDir();
    };
    const removed: string[] = [];
    try {
      await fs.mkdir(aside, { recursive: true, mode: 0o700 });
      // Only files that change are made durable, all at once, before any of them is moved into place.
      for (let i = 0; i < this.staged.length; i += SYNC_BATCH) await Promise.all(this.staged.slice(i, i + SYNC_BATCH).map(({ tmp }) => syncFile(tmp)));
      for (const { tmp, target } of this.staged) {
        await putAside(target);
        await fs.rename(tmp, target);
      }
      this.staged = [];
      for (const file of this.removals) await putAside(join(this.dir, file));
      this.removals = [];
      if (keep) {
        for (const entry of await fs.readdir(this.dir, { withFileTypes: true })) {
          if (!entry.isFile() || keep.has(entry.name)) continue;
          await putAside(join(this.dir, entry.name));
          removed.push(entry.name);
        }
      }
      await syncDir(join(this.dir, META_DIR));
      await syncDir(this.dir);
    } catch (err) {
      await undo().catch(() => undefined);
      throw new StoreError(`cannot publish backup files in ${this.dir}: ${errorMessage(err)}`, { cause: err });
    }
    let settled = false;
    return {
      removed: removed.sort(),
      undo: async () => {
        if (settled) return;
        settled = true;
        try {
          await undo();
        } catch (err) {
          throw new StoreError(`cannot put back the previous backup files in ${this.dir}: ${errorMessage(err)}; the kept copies are in ${aside}`, { cause: err });
        }
      },
      settle: async () => {
        if (settled) return;
        settled = true;
        await fs.rm(join(this.dir, TMP_DIR), { recursive: true, force: true });
      },
    };
  }

  private async settleDir(): Promise<void> {
    await fs.rm(join(this.dir, TMP_DIR), { recursive: true, force: true });
    await syncDir(join(this.dir, META_DIR));
    await syncDir(this.dir);
  }

  /** Drops everything staged; never throws (error path). */
  async discard(): Promise<void> {
    this.staged = [];
    this.removals = [];
    await fs.rm(join(this.dir, TMP_DIR), { recursive: true, force: true }).catch(() => undefined);
  }

  /** Writes one of schema_backup's own small files, only if its content changed. Returns whether it changed. */
  async writeMeta(file: string, text: string | null): Promise<boolean> {
    const target = join(this.dir, file);
    if (text === null) {
      // Removed at publish(), like the table files: a failed run leaves it in place.
      const exists = await fs.lstat(target).then(() => true, () => false);
      if (exists) this.removals.push(file);
      return exists;
    }
    return (await this.write({ table: '', file, head: text, tail: '', plain: true })).changed;
  }

}
