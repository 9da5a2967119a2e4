/**
 * csv2_backup_dir as a git repository, through simple-git: initialise it on
 * first use, refuse user data inside its work tree unless ignored, and commit
 * only the host directory with a message naming what changed.
 */
import { existsSync, promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { CommandError, ConfigError, StoreError, errorMessage } from '../errors';
import { run } from '../proc/run';
import type { Logger } from '../log';

// simple-git strips inherited GIT_* variables unless allowed; these two let an
// operator (and the tests) keep global and system git config out.
const ALLOW_ENVIRONMENT = ['GIT_CONFIG_GLOBAL', 'GIT_CONFIG_NOSYSTEM'];

function git(dir: string, config: string[] = []): SimpleGit {
  // A command is complete when its output is closed; simple-git's default also arms a 50 ms timer at exit.
  return simpleGit({ baseDir: dir, maxConcurrentProcesses: 1, allowEnvironment: ALLOW_ENVIRONMENT, config, completion: { onClose: true, onExit: false } });
}

/** A read-only git command in `dir` (e.g. the API's commit listing), set up as every other: its stdout. */
export function gitOutput(dir: string, args: string[]): Promise<string> {
  return git(dir).raw(args);
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
 * A repository as git described it before the run took its locks: its branch and its config too. Read then
 * (all read-only) so that no git process is left to wait for between the locks and the snapshot; nothing the
 * run itself does changes them, and an operator could change them as well after any check.
 */
export interface ProbedRepository extends Repository {
  /** What HEAD points to (`refs/heads/...`); '' on a detached HEAD. */
  branch: string;
  /** Every config entry git reads there, or why they could not be read (reported once the run holds its locks, with the repository's other refusals). */
  config: ConfigEntry[] | { error: unknown };
}

/** Where the work tree around `base` is, where its index lock would be, and what HEAD points to ('' when detached). */
async function locate(base: string): Promise<{ top: string; lock: string; branch: string } | null> {
  try {
    // One process for all three where HEAD names a commit: `HEAD` itself when detached, `refs/heads/...` on a branch.
    const [top, lock, head] = (await git(base).raw(['rev-parse', '--show-toplevel', '--git-path', 'index.lock', '--symbolic-full-name', 'HEAD'])).trim().split('\n');
    if (top && lock && head) return { top, lock, branch: head === 'HEAD' ? '' : head };
  } catch {
    // A branch with no commit yet (a new repository) has no HEAD to name, and so does a directory outside a work tree: asked apart.
  }
  const [where, branch] = await Promise.all([
    git(base)
      .raw(['rev-parse', '--show-toplevel', '--git-path', 'index.lock'])
      .then((out) => out.trim().split('\n'))
      .catch(() => null),
    // Exit 1 without output on a detached HEAD; simple-git then returns ''.
    git(base)
      .raw(['symbolic-ref', '-q', 'HEAD'])
      .then((out) => out.trim())
      .catch(() => ''),
  ]);
  const [top, lock] = where ?? [];
  return top && lock ? { top, lock, branch } : null;
}

/**
 * What git says of `dir` (which need not exist yet); null when it is not inside a work tree. Where it is and its
 * config are asked at once (two git processes; three on a branch with no commit yet).
 */
export async function probeRepository(dir: string): Promise<ProbedRepository | null> {
  const base = await nearestExisting(dir);
  const config = configEntries(configGit(base)).catch((error: unknown) => ({ error }));
  const [found, entries] = await Promise.all([locate(base), config]);
  return found ? { top: found.top, indexLock: resolve(base, found.lock), branch: found.branch, config: entries } : null;
}

/** Makes sure csv2_backup_dir is inside a git work tree (initialising one there if not). */
export async function ensureRepository(dir: string, log: Logger, probed: ProbedRepository | null): Promise<ProbedRepository> {
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
export function checkRepositoryReady(repo: ProbedRepository): void {
  if (existsSync(repo.indexLock)) {
    throw new StoreError(`git repository ${repo.top} is locked: ${repo.indexLock} exists (a git command is running, or one crashed); remove it if no git command runs, then run again`);
  }
  if (!repo.branch) {
    throw new StoreError(`git repository ${repo.top} has a detached HEAD: a commit would belong to no branch; check out a branch (git -C ${repo.top} checkout main) and run again`);
  }
}

function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep) && rel !== '..');
}

/**
 * Where `path` really is, whether or not it exists yet: symbolic links are
 * followed (a dangling one to where it points), and the part that does not
 * exist is appended to the real path of its nearest existing ancestor.
 */
export async function realPathOf(path: string, depth = 0): Promise<string> {
  const abs = resolve(path);
  const real = await fs.realpath(abs).catch(() => null);
  if (real !== null) return real;
  const link = depth < 40 ? await fs.readlink(abs).catch(() => null) : null;
  if (link !== null) return realPathOf(resolve(dirname(abs), link), depth + 1);
  const parent = dirname(abs);
  if (parent === abs) return abs;
  return join(await realPathOf(parent, depth), basename(abs));
}

/** Directories a backup repository must never be created in (git init there would take the system in). */
function systemDirectories(): string[] {
  const dirs = ['/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib64', '/media', '/mnt', '/opt', '/proc', '/root', '/run', '/sbin', '/srv', '/sys', '/tmp', '/usr', '/usr/local', '/var', '/var/lib'];
  for (const home of [homedir(), process.env.HOME]) if (home) dirs.push(resolve(home));
  return dirs;
}

/**
 * Refuses (ConfigError: nothing attempted) a csv2_backup_dir that resolves to
 * `/`, a system directory or the user's home: schema_backup would run
 * `git init` there, or commit into a repository that holds the system.
 */
export async function checkBackupDirAllowed(csv2BackupDir: string, configFile: string): Promise<void> {
  // Asked all at once: one after another, the two dozen lookups took 3-12 ms of a run's start.
  const dirs = systemDirectories();
  const [real, ...reals] = await Promise.all([csv2BackupDir, ...dirs].map((d) => realPathOf(d)));
  const system = new Set([...dirs, ...reals]);
  if (system.has(real)) {
    const shown = real === csv2BackupDir ? real : `${csv2BackupDir} (${real})`;
    throw new ConfigError([
      { file: configFile, key: 'csv2_backup_dir', message: `${shown} is a system directory (or your home): schema_backup would make it a git repository; set csv2_backup_dir to a directory of its own, e.g. /var/lib/schema_backup/git` },
    ]);
  }
}

/**
 * Refuses (ConfigError: nothing attempted) a user-data directory inside the
 * git work tree unless git ignores it. Real paths are compared (symbolic
 * links followed, missing parts under their nearest existing ancestor).
 */
export async function checkUserDataOutsideGit(csv2BackupDir: string, userDataDir: string, repo: Repository | null): Promise<void> {
  const real = await realPathOf(userDataDir);
  const top = repo ? await realPathOf(repo.top) : null;
  if (!top) {
    // Not a repository yet: it will be initialised at csv2_backup_dir itself.
    const future = await realPathOf(csv2BackupDir);
    if (isInside(real, future)) {
      throw new ConfigError(`user_data_backup_dir ${userDataDir}${real !== resolve(userDataDir) ? ` (really ${real})` : ''} lies inside csv2_backup_dir ${csv2BackupDir}, which is a git work tree: sensitive data would be committed; move it outside`);
    }
    return;
  }
  if (!isInside(real, top)) return;
  let ignored: string[] = [];
  try {
    ignored = await git(top).checkIgnore([relative(top, real) + '/probe']);
  } catch {
    ignored = [];
  }
  if (ignored.length === 0) {
    throw new ConfigError(`user_data_backup_dir ${userDataDir}${real !== resolve(userDataDir) ? ` (really ${real})` : ''} lies inside the git work tree ${top} and is not ignored by it: sensitive data would be committed; move it outside or add it to ${top}/.gitignore`);
  }
}

/** The diff driver that shows one row per line: rows are split on `),(`, which never occurs inside a value (src/dump/tuples.ts). */
export const DIFF_DRIVER = 'schema_backup';
export const DIFF_TEXTCONV = "sed -e 's/),(/),\\n(/g'";
/** Host table files (HOST/TABLE), relative to csv2_backup_dir; not the manifests below HOST/.schema_backup. */
const ATTRIBUTES_LINE = `*/* diff=${DIFF_DRIVER}`;

/** One entry of `git config -z --show-scope`'s output: its scope, key and value (null for a key given without one). */
export interface ConfigEntry {
  scope: string;
  key: string;
  value: string | null;
}

/**
 * Parses `git config -z --list`: `key LF value NUL` per entry (`key NUL` for a key without a value), each
 * preceded by `scope NUL` with --show-scope; without it, every entry gets `scope`. Pure.
 */
export function parseConfigEntries(out: string, scope: string | null = null): ConfigEntry[] {
  // The output ends with NUL: the last field is empty.
  const fields = out.split('\0').slice(0, -1);
  const width = scope === null ? 2 : 1;
  const entries: ConfigEntry[] = [];
  for (let i = 0; i + width <= fields.length; i += width) {
    const entry = fields[i + width - 1];
    const at = entry.indexOf('\n');
    entries.push({ scope: scope ?? fields[i], key: at < 0 ? entry : entry.slice(0, at), value: at < 0 ? null : entry.slice(at + 1) });
  }
  return entries;
}

/**
 * Every config entry git reads here, with its scope. `--list` exits 0 whatever is set (`--get-regexp`
 * exits 1 when nothing matches, which simple-git takes for a failure if git also warns). Git before 2.26
 * has no --show-scope: there the repository's own entries and all of them are read apart (two processes).
 */
async function configEntries(g: SimpleGit): Promise<ConfigEntry[]> {
  try {
    return parseConfigEntries(await g.raw(['config', '-z', '--show-scope', '--list']));
  } catch (err) {
    if (!/show-scope/.test(errorMessage(err))) throw err;
    const local = parseConfigEntries(await g.raw(['config', '-z', '--local', '--list']), 'local');
    return [...local, ...parseConfigEntries(await g.raw(['config', '-z', '--list']), 'any')];
  }
}

/** What the run needs to know of the repository's config. */
export interface RepositoryConfig {
  /** user.email is set in a config file git reads: commits are the operator's; otherwise schema_backup's. */
  identity: boolean;
}

/** simple-git for the config: it refuses to set a textconv unless told, and this one is our fixed sed command, never input. */
function configGit(dir: string): SimpleGit {
  return simpleGit({ baseDir: dir, allowEnvironment: ALLOW_ENVIRONMENT, completion: { onClose: true, onExit: false }, unsafe: { allowUnsafeDiffTextConv: true } });
}

/**
 * Sets the textconv of the row diff driver in the repository's own config (git never takes drivers from
 * committed files), when the config the probe read does not set it already, and says whether git has an
 * identity to commit with: no git process at all when nothing is to be set.
 */
export async function ensureDiffDriver(repo: ProbedRepository): Promise<RepositoryConfig> {
  const key = `diff.${DIFF_DRIVER}.textconv`;
  try {
    if (!Array.isArray(repo.config)) throw repo.config.error;
    const entries = repo.config;
    // As `git config --local --get` reads it: the last value set there.
    const local = entries.filter((e) => e.scope === 'local' && e.key === key).pop();
    if (local?.value !== DIFF_TEXTCONV) await configGit(repo.top).raw(['config', '--local', key, DIFF_TEXTCONV]);
    return { identity: entries.some((e) => e.key === 'user.email' && (e.value ?? '') !== '') };
  } catch (err) {
    throw gitError('config', repo.top, err);
  }
}

/** `.gitattributes` as this run changed it: the commit takes it along; undo() puts the previous one back. */
export interface AttributesChange {
  path: string;
  undo(): Promise<void>;
}

/**
 * Makes `csv2_backup_dir/.gitattributes` route host table files through the driver (outside
 * HOST/, where db_upgrade takes every plain file for a table). Returns the change when it
 * had to be written; null when it already says so.
 */
export async function ensureDiffAttributes(backupDir: string): Promise<AttributesChange | null> {
  const path = resolve(backupDir, '.gitattributes');
  const previous = await fs.readFile(path, 'utf8').catch(() => null);
  const text = previous ?? '';
  if (text.split('\n').some((l) => l.trim() === ATTRIBUTES_LINE)) return null;
  const updated = `${text}${text && !text.endsWith('\n') ? '\n' : ''}# schema_backup: show rows one per line in git diff and git log -p\n${ATTRIBUTES_LINE}\n`;
  try {
    await fs.writeFile(path, updated);
  } catch (err) {
    throw new StoreError(`cannot write ${path}: ${errorMessage(err)}`, { cause: err });
  }
  return {
    path,
    async undo() {
      try {
        if (previous === null) await fs.rm(path, { force: true });
        else await fs.writeFile(path, previous);
      } catch (err) {
        throw new StoreError(`cannot put back ${path}: ${errorMessage(err)}`, { cause: err });
      }
    },
  };
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
 * Runs git with its own index file. Through the process module, not simple-git:
 * simple-git refuses an explicit environment that carries GIT_CONFIG_GLOBAL.
 */
async function gitWithIndex(repoTop: string, indexFile: string, args: string[], input?: string): Promise<string> {
  return gitRun(repoTop, args, { GIT_INDEX_FILE: indexFile }, input);
}

/**
 * Runs git through the process module. Also for commands that print nothing:
 * simple-git waits 50 ms after such a command's exit for output that may
 * still come (`git status` of a clean tree, `git reset -q`).
 */
async function gitRun(repoTop: string, args: string[], env: NodeJS.ProcessEnv = {}, input?: string): Promise<string> {
  try {
    return (await run('git', ['-C', repoTop, ...args], { env: { ...process.env, ...env }, input })).stdout;
  } catch (err) {
    // Git's own words (a hook's output comes on stderr), not the whole command line.
    if (err instanceof CommandError) throw new Error(`git ${args.find((a) => !a.startsWith('-') && !a.includes('=')) ?? ''}: ${(err.stderr.trim() || err.stdout.trim() || `exited with ${err.code}`)}`);
    throw err;
  }
}

/**
 * True when the paths hold exactly HEAD's files, as the index says and as
 * untracked files show (with no HEAD yet: no files there, so nothing to
 * commit either). Read-only: --no-optional-locks keeps git from refreshing
 * (and locking) the operator's index. An error is false: the full commit
 * path decides.
 */
async function unchangedSinceHead(repoTop: string, pathspec: string[]): Promise<boolean> {
  try {
    const [status, entries] = await Promise.all([
      // No file system monitor: it may miss a change the full path would see.
      gitRun(repoTop, ['-c', 'core.fsmonitor=false', '--no-optional-locks', 'status', '--porcelain', '--untracked-files=all', '--', ...pathspec]),
      // Entries marked assume-unchanged (lower-case tag) or skip-worktree (S) hide changes from status.
      gitRun(repoTop, ['ls-files', '-v', '--', ...pathspec]),
    ]);
    const hidden = entries.split('\n').some((line) => line !== '' && (line[0] === 'S' || line[0] !== line[0].toUpperCase()));
    return !hidden && status.trim() === '';
  } catch {
    return false;
  }
}

/** What a host commit covers besides `hostDir`: `alsoCommit`, and never what lies under `exclude`. */
export interface HostPaths {
  alsoCommit?: readonly string[];
  exclude?: readonly string[];
}

function hostPathspec(repo: Repository, hostDir: string, options: HostPaths): { paths: string[]; pathspec: string[] } {
  const rel = (p: string) => relative(repo.top, p) || '.';
  const paths = [hostDir, ...(options.alsoCommit ?? [])].map(rel);
  return { paths, pathspec: [...paths, ...(options.exclude ?? []).map((p) => `:(exclude)${rel(p)}`)] };
}

/**
 * Whether git sees exactly HEAD's files under the host paths (read-only, never rejects; see unchangedSinceHead):
 * started early, while the run does other work, and handed to commitHostDir as `unchanged`.
 */
export function hostDirUnchanged(repo: Repository, hostDir: string, options: HostPaths = {}): Promise<boolean> {
  return unchangedSinceHead(repo.top, hostPathspec(repo, hostDir, options).pathspec);
}

/**
 * Commits `hostDir` (and `alsoCommit`) only, from a temporary index built
 * from HEAD: nothing else the operator staged is committed, and a commit that
 * fails (a hook that refuses, signing without a usable key) leaves the real
 * index as it was. Hooks run (never skipped behind the operator's back); a
 * refusal throws StoreError with their output. Returns the new commit, or
 * null when the files equal HEAD. Once git has made the commit nothing throws,
 * whatever git says after. `changed` says whether this run changed files
 * there; when it did not, the commit (if any) is of files an earlier,
 * interrupted run left behind. `identity`: who commits when git has no
 * identity of its own (null: git's, see ensureDiffDriver). `exclude`: paths
 * under them never committed (the run's temporary files). `warnings`: told
 * what went wrong after the commit was made, besides the log. `unchanged`: hostDirUnchanged's answer, when the
 * caller started it (only read where `changed` is false).
 */
export async function commitHostDir(
  repo: Repository,
  hostDir: string,
  changed: boolean,
  message: (leftoverPaths: string[]) => string,
  identity: { name: string; email: string } | null,
  options: HostPaths & { log?: Logger; warnings?: string[]; unchanged?: Promise<boolean> } = {},
): Promise<string | null> {
  const repoTop = repo.top;
  const { paths, pathspec } = hostPathspec(repo, hostDir, options);
  const indexFile = join(dirname(repo.indexLock), `schema_backup-index.${process.pid}`);
  // Nothing changed by this run, and git sees nothing under the paths either: one process instead of five.
  if (!changed && (await (options.unchanged ?? unchangedSinceHead(repoTop, pathspec)))) return null;
  const identityArgs = identity ? ['-c', `user.name=${identity.name}`, '-c', `user.email=${identity.email}`] : [];
  const gi = (args: string[], input?: string) => gitWithIndex(repoTop, indexFile, args, input);
  const warn = (message: string, err: unknown): void => {
    options.log?.warn(message, { repo: repoTop, err: errorMessage(err) });
    options.warnings?.push(`${message}: ${errorMessage(err).trim()}`);
  };
  // Started once the commit is made, alongside reading its id; never rejects.
  let indexFollowed: Promise<void> = Promise.resolve();
  /** The commit stands: the real index follows HEAD for the committed paths (as `git commit -- paths` would leave it). */
  const committed = (): Promise<string> => {
    indexFollowed = gitRun(repoTop, ['reset', '-q', 'HEAD', '--', ...pathspec]).then(
      () => undefined,
      (err: unknown) => warn('commit made, but the git index could not be updated; `git status` may show the backup files as changed until `git reset`', err),
    );
    return newCommitId(repoTop, warn);
  };
  let head = '';
  let committing = false;
  try {
    await fs.rm(indexFile, { force: true });
    head = await revParse(repoTop, 'HEAD');
    if (head) await gi(['read-tree', 'HEAD']);
    await gi(['add', '-A', '--', ...pathspec]);
    const staged = (await gi(['diff', '--cached', '--name-only', ...(head ? ['HEAD'] : []), '--', ...paths])).split('\n').filter((l) => l.trim());
    // The files may equal HEAD again (a change reverted): nothing to commit.
    if (staged.length === 0) return null;
    committing = true;
    await gi([...identityArgs, 'commit', '-q', '-F', '-'], message(changed ? [] : staged));
    return await committed();
  } catch (err) {
    // `git commit` may fail after it made the commit (killed once HEAD moved): a commit of this run's tree on top of
    // the HEAD it read is its own, and stands (not one the operator made meanwhile). newCommitId never throws.
    if (committing && (await madeAnyway(repoTop, head, () => gi(['write-tree'])))) {
      warn('git reported a failure after making the commit; the commit stands', err);
      return await committed();
    }
    throw new StoreError(
      `git commit in ${repoTop} failed: ${errorMessage(err).trim()}\nNothing was committed and the previous backup is unchanged; fix what git reports (a hook, commit signing) and run again`,
      { cause: err },
    );
  } finally {
    await indexFollowed;
    await fs.rm(indexFile, { force: true }).catch(() => undefined);
  }
}

/**
 * The object `rev` names; '' when there is none (no commit yet, the parent of the first).
 * Any other failure throws: taken for "no commit", it would build the next commit from an empty tree.
 */
async function revParse(repoTop: string, rev: string): Promise<string> {
  try {
    return (await run('git', ['-C', repoTop, 'rev-parse', '--verify', '--quiet', rev], { env: process.env })).stdout.trim();
  } catch (err) {
    // `--verify --quiet` says "no such commit" by exit 1 alone.
    if (err instanceof CommandError && err.code === 1 && !err.stderr.trim()) return '';
    throw err;
  }
}

/** After a failed `git commit`: HEAD moved to a commit of this run's tree (`tree`) whose parent is `head`. */
async function madeAnyway(repoTop: string, head: string, tree: () => Promise<string>): Promise<boolean> {
  try {
    const [now, parent, headTree, ours] = await Promise.all([revParse(repoTop, 'HEAD'), revParse(repoTop, 'HEAD^'), revParse(repoTop, 'HEAD^{tree}'), tree()]);
    return now !== '' && now !== head && parent === head && headTree === ours.trim();
  } catch {
    // Nothing can be told: the run fails as git said, and is taken back.
    return false;
  }
}

/** What a run reports as its commit when git made one but could not then tell its id. */
export const UNKNOWN_COMMIT = 'unknown';
const COMMIT_ID_TRIES = 3;

/**
 * The id of the commit git has just made. Its failure must not undo the run: the commit exists and
 * records the files just published. Asked again after a pause (a process that could not start may
 * start later); if git never answers, the run says so and goes on.
 */
async function newCommitId(repoTop: string, warn: (message: string, err: unknown) => void): Promise<string> {
  let failure: unknown = 'no output';
  for (let i = 0; i < COMMIT_ID_TRIES; i++) {
    if (i > 0) await sleep(100);
    try {
      const id = (await gitRun(repoTop, ['rev-parse', 'HEAD'])).trim();
      if (id) return id;
    } catch (err) {
      failure = err;
    }
  }
  warn("the backup was committed, but git could not tell the commit's id; `git log -1` shows it", failure);
  return UNKNOWN_COMMIT;
}
