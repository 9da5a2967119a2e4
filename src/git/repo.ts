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
  return simpleGit({ baseDir: dir, maxConcurrentProcesses: 1, allowEnvironment: ALLOW_ENVIRONMENT, config });
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

/** The work tree containing `dir` (which need not exist yet), or null when it is not inside one. */
export async function workTreeOf(dir: string): Promise<string | null> {
  try {
    const top = (await git(await nearestExisting(dir)).revparse(['--show-toplevel'])).trim();
    return top || null;
  } catch {
    return null;
  }
}

/** Makes sure csv2_backup_dir is inside a git work tree (initialising one there if not); returns the top level. */
export async function ensureRepository(dir: string, log: Logger): Promise<string> {
  await fs.mkdir(dir, { recursive: true }).catch((err) => {
    throw new StoreError(`cannot create csv2_backup_dir ${dir}: ${errorMessage(err)}`, { cause: err });
  });
  const top = await workTreeOf(dir);
  if (top) return top;
  try {
    await git(dir).init(['--initial-branch=main']);
  } catch (err) {
    throw gitError('init', dir, err);
  }
  log.info('initialised a git repository for the backups', { dir });
  return (await workTreeOf(dir)) ?? dir;
}

/**
 * Refuses, before anything is published, a repository in which the commit
 * would fail (a leftover `index.lock`) or land on no branch (a detached HEAD):
 * the host files must not move ahead of the commit that records them.
 */
export async function checkRepositoryReady(repoTop: string): Promise<void> {
  const g = git(repoTop);
  let lock: string;
  try {
    lock = resolve(repoTop, (await g.raw(['rev-parse', '--git-path', 'index.lock'])).trim());
  } catch (err) {
    throw gitError('rev-parse', repoTop, err);
  }
  if (existsSync(lock)) {
    throw new StoreError(`git repository ${repoTop} is locked: ${lock} exists (a git command is running, or one crashed); remove it if no git command runs, then run again`);
  }
  // Exit 1 without output on a detached HEAD; simple-git then returns ''.
  const branch = (await g.raw(['symbolic-ref', '-q', 'HEAD']).catch(() => '')).trim();
  if (!branch) {
    throw new StoreError(`git repository ${repoTop} has a detached HEAD: a commit would belong to no branch; check out a branch (git -C ${repoTop} checkout main) and run again`);
  }
}

function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep) && rel !== '..');
}

/** Refuses (ConfigError: nothing attempted) a user-data directory inside the git work tree unless git ignores it. */
export async function checkUserDataOutsideGit(csv2BackupDir: string, userDataDir: string): Promise<void> {
  const top = await workTreeOf(csv2BackupDir);
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

export interface HostChange {
  /** Table names whose structure changed (or that are new). */
  structure: string[];
  rows: string[];
  removed: string[];
  views: boolean;
}

export function commitMessage(host: string, change: HostChange): string {
  const names = [...new Set([...change.structure, ...change.rows, ...change.removed])];
  const subjectNames = names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
  const subject = names.length > 0 ? `${host}: ${subjectNames}` : `${host}: views`;
  const body: string[] = [];
  if (change.structure.length) body.push(`structure: ${change.structure.join(', ')}`);
  if (change.rows.length) body.push(`rows: ${change.rows.join(', ')}`);
  if (change.removed.length) body.push(`removed: ${change.removed.join(', ')}`);
  if (change.views) body.push('views: changed');
  return `${subject}\n\n${body.join('\n')}\n`;
}

/**
 * Stages and commits `hostDir` only (a pathspec commit leaves anything else
 * staged alone). Returns the new commit, or null when nothing changed.
 */
export async function commitHostDir(
  repoTop: string,
  hostDir: string,
  message: (stagedPaths: string[]) => string,
  identity: { name: string; email: string },
): Promise<string | null> {
  const path = relative(repoTop, hostDir) || '.';
  const g = git(repoTop);
  try {
    await g.raw(['add', '-A', '--', path]);
    const staged = (await g.raw(['diff', '--cached', '--name-only', '--', path])).trim();
    if (!staged) return null;
    const configured = (await g.raw(['config', '--get', 'user.email']).catch(() => '')).trim();
    const withIdentity = configured ? g : git(repoTop, [`user.name=${identity.name}`, `user.email=${identity.email}`]);
    await withIdentity.raw(['commit', '--no-verify', '-q', '-m', message(staged.split('\n')), '--', path]);
    return (await g.revparse(['HEAD'])).trim();
  } catch (err) {
    throw gitError('commit', repoTop, err);
  }
}
