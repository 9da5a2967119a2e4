/**
 * GET /v1/backups: the host directory's commits and the user-data snapshots,
 * with times, sizes and what the last run's verification said of them.
 * Read-only: git log/ls-tree and directory listings, nothing is locked.
 */
import { promises as fs } from 'node:fs';
import { join, relative } from 'node:path';
import { gitOutput } from '../git/repo';
import type { StatusRecord } from '../bookkeeping/status';
import { errorMessage } from '../errors';
import { parseManifest } from '../store/manifest';
import { MANIFEST_FILE } from '../store/names';
import { LATEST, isSnapshotName } from '../domain/snapshot-name';
import { readLatestTarget } from '../store/user-snapshot';

export interface VerifyView {
  ok: boolean;
  message: string | null;
  at: string | null;
}

export interface CommitView {
  commit: string;
  time: string;
  subject: string;
  /** Total size of the host directory's files at that commit. */
  bytes: number;
  verify: VerifyView | null;
}

export interface SnapshotView {
  name: string;
  /** From the name (UTC). */
  time: string;
  latest: boolean;
  bytes: number;
  tables: number | null;
  rows: number | null;
  verify: VerifyView | null;
}

export interface BackupsView {
  hostDir: string;
  commits: CommitView[];
  userDataDir: string | null;
  snapshots: SnapshotView[];
  problems: string[];
}

/** `YYYYmmddHHMMSS` (UTC) -> ISO 8601. */
export function snapshotTime(name: string): string {
  return `${name.slice(0, 4)}-${name.slice(4, 6)}-${name.slice(6, 8)}T${name.slice(8, 10)}:${name.slice(10, 12)}:${name.slice(12, 14)}Z`;
}

/** The verification the last run recorded, when that run made this commit or snapshot. */
function verifyOf(status: StatusRecord | null, match: (s: StatusRecord) => boolean): VerifyView | null {
  if (!status?.verify || !match(status)) return null;
  return { ok: status.verify.ok, message: status.verify.message, at: status.verify.at ?? status.finishedAt };
}

/** `git log` lines (hash, committer time, subject) -> views; pure. */
export function parseLog(text: string): { commit: string; time: string; subject: string }[] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const [commit = '', time = '', ...subject] = l.split('\t');
      return { commit, time, subject: subject.join('\t') };
    });
}

/** `git ls-tree -r -l` output -> total bytes of the blobs; pure. */
export function treeBytes(text: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^\d+ blob [0-9a-f]+\s+(\d+)\t/.exec(line);
    if (m) total += Number(m[1]);
  }
  return total;
}

async function listCommits(csv2BackupDir: string, hostDir: string, limit: number, status: StatusRecord | null): Promise<CommitView[]> {
  const exists = await fs.stat(hostDir).then((s) => s.isDirectory(), () => false);
  if (!exists) return [];
  const top = (await gitOutput(csv2BackupDir, ['rev-parse', '--show-toplevel'])).trim();
  const path = relative(top, hostDir);
  const log = parseLog(await gitOutput(top, ['log', `-n${limit}`, '--format=%H%x09%cI%x09%s', '--', path]));
  const out: CommitView[] = [];
  for (const c of log) {
    const bytes = treeBytes(await gitOutput(top, ['ls-tree', '-r', '-l', '--full-tree', c.commit, '--', path]));
    out.push({ ...c, bytes, verify: verifyOf(status, (s) => s.commit === c.commit) });
  }
  return out;
}

async function snapshotView(root: string, name: string, latest: string | null, status: StatusRecord | null): Promise<SnapshotView> {
  const dir = join(root, name);
  let bytes = 0;
  const walk = async (d: string): Promise<void> => {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else if (e.isFile()) bytes += (await fs.stat(join(d, e.name))).size;
    }
  };
  await walk(dir);
  let tables: number | null = null;
  let rows: number | null = null;
  try {
    const m = parseManifest(await fs.readFile(join(dir, MANIFEST_FILE), 'utf8'), dir);
    tables = m.tables.length;
    rows = m.tables.reduce((n, t) => n + (t.rows ?? 0), 0);
  } catch {
    // A gzip manifest or none: sizes are still worth showing.
  }
  return {
    name,
    time: snapshotTime(name),
    latest: name === latest,
    bytes,
    tables,
    rows,
    verify: verifyOf(status, (s) => s.userSnapshot !== null && (s.userSnapshot === name || s.userSnapshot.endsWith(`/${name}`))),
  };
}

export async function listBackups(o: {
  csv2BackupDir: string;
  hostDir: string;
  userDataDir: string | null;
  status: StatusRecord | null;
  limit: number;
}): Promise<BackupsView> {
  const problems: string[] = [];
  let commits: CommitView[] = [];
  try {
    commits = await listCommits(o.csv2BackupDir, o.hostDir, o.limit, o.status);
  } catch (err) {
    problems.push(`cannot read the git history of ${o.hostDir}: ${errorMessage(err).trim()}`);
  }
  const snapshots: SnapshotView[] = [];
  if (o.userDataDir) {
    const names = await fs.readdir(o.userDataDir).catch(() => [] as string[]);
    const latest = await readLatestTarget(o.userDataDir);
    // Newest first, like the commits.
    for (const name of names.filter((n) => isSnapshotName(n) && n !== LATEST).sort().reverse().slice(0, o.limit)) {
      try {
        snapshots.push(await snapshotView(o.userDataDir, name, latest, o.status));
      } catch (err) {
        // Removed by retention meanwhile, or unreadable: say so, list the others.
        problems.push(`snapshot ${name}: ${errorMessage(err)}`);
      }
    }
  }
  return { hostDir: o.hostDir, commits, userDataDir: o.userDataDir, snapshots, problems };
}
