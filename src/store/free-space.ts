/**
 * Room for the next run, checked before any service is touched. Without
 * user_data_retention every changed run adds a full user-data snapshot, so a
 * disk fills up; a run that would then fail half-way (consumers stopped,
 * files half-written and removed again) is refused up front instead, with
 * the filesystem, the bytes needed and free, and what to do.
 *
 * The estimate is pure (planSpace): the last backup's sizes in, the bytes
 * each filesystem needs out. The I/O (a walk of the last backup, statfs) is
 * measureStorage, also used after every run for status.json and the metrics.
 */
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import type { BackupConfig } from '../config/types';
import { StoreError, errorMessage } from '../errors';
import { listSnapshots } from './retention';
import { TMP_DIR } from './names';
import { readLatestTarget } from './user-snapshot';

/** A backup directory as schema_backup.conf (or the command line) names it. */
export type BackupDirRole = 'csv2_backup_dir' | 'user_data_backup_dir' | '-e DIR';

/** What the last backup left, in bytes: the measure of what the next run writes. */
export interface LastBackupSizes {
  /** The host files (table files, views, manifest) of this host under csv2_backup_dir. */
  hostFiles: number;
  /** The snapshot `latest` names (else the newest), null without user_data_backup_dir. */
  userSnapshot: number | null;
  /** What -e DIR holds now (the previous run's files), null without -e. */
  ephemeralFiles: number | null;
}

export interface BackupDirSpace {
  role: BackupDirRole;
  path: string;
  /** Its filesystem (stat's dev of the directory, or of its nearest existing parent). */
  device: number;
  /** Bytes an unprivileged writer may still use there (statfs bavail x bsize). */
  freeBytes: number;
}

export interface SpaceShortfall {
  /** The directories on the filesystem that is short. */
  dirs: { role: BackupDirRole; path: string }[];
  needBytes: number;
  freeBytes: number;
}

/**
 * The bytes the next run writes into each backup directory, at most:
 * csv2_backup_dir gets every host file again under a temporary name, plus
 * git's objects for the changed ones (compressed, but counted at full size to
 * stay on the safe side): twice the host files. A changed user-data snapshot
 * is a full new one. -e DIR gets its files again beside the old ones.
 */
export function spaceNeeded(role: BackupDirRole, last: LastBackupSizes): number {
  switch (role) {
    case 'csv2_backup_dir':
      return 2 * last.hostFiles;
    case 'user_data_backup_dir':
      return last.userSnapshot ?? 0;
    case '-e DIR':
      return last.ephemeralFiles ?? 0;
  }
}

/** The filesystems that cannot take the next run: directories sharing one add up their needs. */
export function planSpace(dirs: readonly BackupDirSpace[], last: LastBackupSizes): SpaceShortfall[] {
  const byDevice = new Map<number, SpaceShortfall>();
  for (const d of dirs) {
    const fsEntry = byDevice.get(d.device) ?? { dirs: [], needBytes: 0, freeBytes: d.freeBytes };
    fsEntry.dirs.push({ role: d.role, path: d.path });
    fsEntry.needBytes += spaceNeeded(d.role, last);
    fsEntry.freeBytes = Math.min(fsEntry.freeBytes, d.freeBytes);
    byDevice.set(d.device, fsEntry);
  }
  return [...byDevice.values()].filter((f) => f.needBytes > f.freeBytes);
}

export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${v.toFixed(1)} ${units[u]} (${n} bytes)`;
}

/** The refusal, naming the filesystem's directories, the bytes needed and free, and what to do. */
export function shortfallMessage(s: SpaceShortfall, config: Pick<BackupConfig, 'file' | 'retention'>): string {
  const dirs = s.dirs.map((d) => `${d.role} ${d.path}`).join(' and ');
  const hasUser = s.dirs.some((d) => d.role === 'user_data_backup_dir');
  const advice = hasUser
    ? config.retention
      ? `free space there, or keep fewer user-data snapshots (user_data_retention in ${config.file})`
      : `free space there, or set user_data_retention: { keep: N, days: D } in ${config.file} so that older user-data snapshots are removed`
    : 'free space there';
  return `not enough free space for this run on the filesystem of ${dirs}: about ${formatBytes(s.needBytes)} needed (the size of the last backup written there), ${formatBytes(s.freeBytes)} free; ${advice}. Nothing was changed`;
}

/** fs.promises.statfs, or a stand-in in tests. */
export type StatfsFn = (path: string) => Promise<{ bavail: number; bsize: number }>;

/** The directory itself or, before the first run created it, its nearest existing parent: where its files will land. */
async function nearestExisting(path: string): Promise<string> {
  for (let p = path; ; p = dirname(p)) {
    try {
      await fs.stat(p);
      return p;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(p) === p) throw err;
    }
  }
}

/** Bytes of the regular files under `dir` (symbolic links not followed; `skip` by path relative to dir). */
async function treeBytes(dir: string, skip: (rel: string) => boolean = () => false, rel = ''): Promise<number> {
  let entries;
  try {
    entries = await fs.readdir(join(dir, rel), { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return 0;
    throw err;
  }
  // All entries at once: one lstat after another (a thread pool hop each) was most of this walk's time.
  const sizes = await Promise.all(
    entries.map(async (e) => {
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (skip(child)) return 0;
      if (e.isDirectory()) return treeBytes(dir, skip, child);
      return e.isFile() ? (await fs.lstat(join(dir, child))).size : 0;
    }),
  );
  return sizes.reduce((a, b) => a + b, 0);
}

async function lastUserSnapshot(userDir: string): Promise<string | null> {
  const latest = await readLatestTarget(userDir);
  if (latest) return latest;
  const all = await listSnapshots(userDir).catch(() => []);
  return all.sort((a, b) => b.name.localeCompare(a.name))[0]?.name ?? null;
}

export interface StorageTargets {
  config: Pick<BackupConfig, 'csv2BackupDir' | 'userDataBackupDir' | 'file' | 'retention'>;
  hostName: string | null;
  ephemeralDir: string | null;
}

export interface StorageReport {
  dirs: BackupDirSpace[];
  last: LastBackupSizes;
  /** Complete user-data snapshots; null without user_data_backup_dir. */
  userSnapshots: number | null;
}

/** Free space of each backup directory's filesystem, the last backup's sizes and the snapshot count. */
export async function measureStorage(t: StorageTargets, statfs: StatfsFn = (p) => fs.statfs(p)): Promise<StorageReport> {
  const { config } = t;
  const wanted: { role: BackupDirRole; path: string }[] = [{ role: 'csv2_backup_dir', path: config.csv2BackupDir }];
  if (config.userDataBackupDir) wanted.push({ role: 'user_data_backup_dir', path: config.userDataBackupDir });
  if (t.ephemeralDir) wanted.push({ role: '-e DIR', path: t.ephemeralDir });
  const userDir = config.userDataBackupDir;
  // Independent lookups, asked together (the report is taken at the start and at the end of every run).
  const [dirs, hostFiles, userSnapshot, ephemeralFiles, userSnapshots] = await Promise.all([
    Promise.all(
      wanted.map(async (w): Promise<BackupDirSpace> => {
        const existing = await nearestExisting(w.path);
        const [st, sfs] = await Promise.all([fs.stat(existing), statfs(existing)]);
        return { ...w, device: st.dev, freeBytes: sfs.bavail * sfs.bsize };
      }),
    ),
    t.hostName ? treeBytes(join(config.csv2BackupDir, t.hostName), (rel) => rel === TMP_DIR) : 0,
    userDir ? lastUserSnapshot(userDir).then((snapshot) => (snapshot ? treeBytes(join(userDir, snapshot)) : 0)) : null,
    t.ephemeralDir ? treeBytes(t.ephemeralDir, (rel) => rel === TMP_DIR) : null,
    userDir ? listSnapshots(userDir).then((all) => all.length, () => 0) : null,
  ]);
  return { dirs, last: { hostFiles, userSnapshot, ephemeralFiles }, userSnapshots };
}

/**
 * Refuses the run (StoreError, exit 5) when a backup filesystem cannot take
 * what the last backup wrote there. Returns what it measured.
 */
export async function checkFreeSpace(t: StorageTargets & { hostName: string }, statfs?: StatfsFn): Promise<StorageReport> {
  let report: StorageReport;
  try {
    report = await measureStorage(t, statfs);
  } catch (err) {
    throw new StoreError(`cannot measure the free space of the backup directories: ${errorMessage(err)}; check that they are usable directories`, { cause: err });
  }
  const short = planSpace(report.dirs, report.last);
  if (short.length > 0) throw new StoreError(short.map((s) => shortfallMessage(s, t.config)).join('\n'));
  return report;
}
