/**
 * csv2_backup_dir as a git repository, through simple-git: initialise it on
 * first use, refuse user data inside its work tree unless ignored, and commit
 * only the host directory with a message naming what changed.
 */
import { existsSync, promises as fs } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { ConfigError, StoreError, errorMessage } from '../errors';
import type { Logger } from '../log';

// simple-git strips inherited GIT_* variables unless allowed; these two let an
// operator (and the tests) keep global and system git config out.
const ALLOW_ENVIRONMENT = ['GIT_CONFIG_GLOBAL', 'GIT_CONFIG_NOSYSTEM'];

function git(dir: string, config: string[] = []): SimpleGit {
  // A command is complete when its output is closed; simple-git's default also arms a 50 ms timer at exit.
  return simpleGit({ baseDir: dir, maxConcurrentProcesses: 1, allowEnvironment: ALLOW_ENVIRONMENT, config, completion: { onClose: true, onExit: false } });
}

function gitError(action: string, dir: string, err: unknown): StoreError {
  return new StoreError(`git ${action} in ${dir} failed: ${errorMessage(err).trim()}`, { cause: err });
}

/** The closest existing directory at or above `dir` (git can only be asked from there). */
async function nearestExisting(dir: string): Promise<string> {
  let current = resolve(dir);
  for (;;) {
    const stat = await fs.stat(current).catch(() => null);
    if (stat?.isDirectory()) return current;
    const parent = dirname(current);
    if (parent === current) return current;
    current = parent;
  }
}

/** A git work tree: its top level and where its index lock would be. */
export interface Repository {
  top: string;
  indexLock: string;
}

/**
 * What git says of `dir` (which need not exist yet), in one call; null when it
 * is not inside a work tree. Every call costs a process, so callers share this.
 */
export async function probeRepository(dir: string): Promise<Repository | null> {
  const base = await nearestExisting(dir);
  try {
    const [top, lock] = (await git(base).raw(['rev-parse', '--show-toplevel', '--git-path', 'index.lock'])).trim().split('\n');
    return top && lock ? { top, indexLock: resolve(base, lock) } : null;
  } catch {
    return null;
  }
}

/** Makes sure csv2_backup_dir is inside a git work tree (initialising one there if not). */
export async function ensureRepository(dir: string, log: Logger, probed: Repository | null): Promise<Repository> {
  await fs.mkdir(dir, { recursive: true }).catch((err) => {
    throw new StoreError(`cannot create csv2_backup_dir ${dir}: ${errorMessage(err)}`, { cause: err });
  });
  if (probed) return probed;
  try {
    await git(dir).init(['--initial-branch=main']);
  } catch (err) {
    throw gitError('init', dir, err);
  }
  log.info('initialised a git repository for the backups', { dir });
  const repo = await probeRepository(dir);
  if (!repo) throw new StoreError(`git init in ${dir} did not make a work tree`);
  return repo;
}

/**
 * Refuses, before anything is published, a repository in which the commit
 * would fail (a leftover `index.lock`) or land on no branch (a detached HEAD):
 * the host files must not move ahead of the commit that records them.
 */
export async function checkRepositoryReady(repo: Repository): Promise<void> {
  if (existsSync(repo.indexLock)) {
    throw new StoreError(`git repository ${repo.top} is locked: ${repo.indexLock} exists (a git command is running, or one crashed); remove it if no git command runs, then run again`);
  }
  // Exit 1 without output on a detached HEAD; simple-git then returns ''.
  const branch = (await git(repo.top).raw(['symbolic-ref', '-q', 'HEAD']).catch(() => '')).trim();
  if (!branch) {
    throw new StoreError(`git repository ${repo.top} has a detached HEAD: a commit would belong to no branch; check out a branch (git -C ${repo.top} checkout main) and run again`);
  }
}

function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep) && rel !== '..');
}

/** Refuses (ConfigError: nothing attempted) a user-data directory inside the git work tree unless git ignores it. */
export async function checkUserDataOutsideGit(csv2BackupDir: string, userDataDir: string, repo: Repository | null): Promise<void> {
  const top = repo?.top ?? null;
  if (!top) {
    // Not a repository yet: it will be initialised at csv2_backup_dir itself.
    if (isInside(resolve(userDataDir), resolve(csv2BackupDir))) {
      throw new ConfigError(`user_data_backup_dir ${userDataDir} lies inside csv2_backup_dir ${csv2BackupDir}, which is a git work tree: sensitive data would be committed; move it outside`);
    }
    return;
  }
  const real = await fs.realpath(userDataDir).catch(() => resolve(userDataDir));
  if (!isInside(real, top)) return;
  let ignored: string[] = [];
  try {
    ignored = await git(top).checkIgnore([relative(top, real) + '/probe']);
  } catch {
    ignored = [];
  }
  if (ignored.length === 0) {
    throw new ConfigError(`user_data_backup_dir ${userDataDir} lies inside the git work tree ${top} and is not ignored by it: sensitive data would be committed; move it outside or add it to ${top}/.gitignore`);
  }
}

/** The diff driver that shows one row per line: rows are split on `),(`, which never occurs inside a value (src/dump/tuples.ts). */
export const DIFF_DRIVER = 'schema_backup';
export const DIFF_TEXTCONV = "sed -e 's/),(/),\\n(/g'";
/** Host table files (HOST/TABLE), relative to csv2_backup_dir; not the manifests below HOST/.schema_backup. */
const ATTRIBUTES_LINE = `*/* diff=${DIFF_DRIVER}`;

/**
 * Sets the textconv of the row diff driver in the repository's own config (git never takes
 * drivers from committed files), when it is not set already. One git call when it is.
 */
export async function ensureDiffDriver(repo: Repository): Promise<void> {
  const key = `diff.${DIFF_DRIVER}.textconv`;
  // simple-git refuses to set a textconv unless told: this one is our fixed sed command, never input.
  const g = simpleGit({ baseDir: repo.top, allowEnvironment: ALLOW_ENVIRONMENT, completion: { onClose: true, onExit: false }, unsafe: { allowUnsafeDiffTextConv: true } });
  try {
    const current = (await g.raw(['config', '--local', '--default', '', '--get', key])).trim();
    if (current !== DIFF_TEXTCONV) await g.raw(['config', '--local', key, DIFF_TEXTCONV]);
  } catch (err) {
    throw gitError('config', repo.top, err);
  }
}

/**
 * Makes `csv2_backup_dir/.gitattributes` route host table files through the driver (outside
 * HOST/, where db_upgrade takes every plain file for a table). Returns its path when it
 * had to be written, so the commit takes it along; null when it already says so.
 */
export async function ensureDiffAttributes(backupDir: string): Promise<string | null> {
  const path = resolve(backupDir, '.gitattributes');
  const text = await fs.readFile(path, 'utf8').catch(() => '');
  if (text.split('\n').some((l) => l.trim() === ATTRIBUTES_LINE)) return null;
  const updated = `${text}${text && !text.endsWith('\n') ? '\n' : ''}# schema_backup: show rows one per line in git diff and git log -p\n${ATTRIBUTES_LINE}\n`;
  try {
    await fs.writeFile(path, updated);
  } catch (err) {
    throw new StoreError(`cannot write ${path}: ${errorMessage(err)}`, { cause: err });
  }
  return path;
}

export interface HostChange {
  /** Table names whose structure changed (or that are new). */
  structure: string[];
  rows: string[];
  removed: string[];
  views: boolean;
  /** Per table whose rows changed: what changed, as one line (rows added, changed, removed and the first keys). */
  rowDetails?: Record<string, string>;
}

export function commitMessage(host: string, change: HostChange): string {
  const names = [...new Set([...change.structure, ...change.rows, ...change.removed])];
  const subjectNames = names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
  const subject = names.length > 0 ? `${host}: ${subjectNames}` : `${host}: views`;
  const body: string[] = [];
  if (change.structure.length) body.push(`structure: ${change.structure.join(', ')}`);
  if (change.rows.length) body.push(`rows: ${change.rows.join(', ')}`);
  for (const [table, detail] of Object.entries(change.rowDetails ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) body.push(`  ${table}: ${detail}`);
  if (change.removed.length) body.push(`removed: ${change.removed.join(', ')}`);
  if (change.views) body.push('views: changed');
  return `${subject}\n\n${body.join('\n')}\n`;
}

/**
 * Stages and commits `hostDir` only (a pathspec commit leaves anything else
 * staged alone). Returns the new commit, or null when nothing changed.
 * `changed` says whether this run changed files there; when it did not, git is
 * still asked, so files a failed commit left behind are committed now.
 * Every command used prints something: simple-git waits 50 ms after a silent one.
 */
export async function commitHostDir(
  repoTop: string,
  hostDir: string,
  changed: boolean,
  message: (leftoverPaths: string[]) => string,
  identity: { name: string; email: string },
  alsoCommit: readonly string[] = [],
): Promise<string | null> {
  const paths = [hostDir, ...alsoCommit].map((p) => relative(repoTop, p) || '.');
  const g = git(repoTop);
  try {
    let leftover: string[] = [];
    if (!changed) {
      // `--branch` makes the first line `## main`, so the output is never empty.
      leftover = (await g.raw(['status', '--porcelain', '--branch', '--', ...paths])).split('\n').slice(1).filter((l) => l.trim());
      if (leftover.length === 0) return null;
    }
    await g.raw(['add', '-A', '--verbose', '--', ...paths]);
    const configured = /^user\.email=./m.test(await g.raw(['config', '--list']));
    const withIdentity = configured ? g : git(repoTop, [`user.name=${identity.name}`, `user.email=${identity.email}`]);
    const out = await withIdentity.raw(['commit', '--no-verify', '-m', message(leftover), '--', ...paths]);
    // The files may equal HEAD again (a change reverted after a failed commit): nothing to commit.
    if (/nothing to commit|no changes added to commit/.test(out)) return null;
    return (await g.revparse(['HEAD'])).trim();
  } catch (err) {
    throw gitError('commit', repoTop, err);
  }
}
