/** Real git repositories for tests, kept away from the user's global git config. */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { run } from '../../src/proc/run';
import { withEnv } from './env';
import { tempDir } from './tmp';

/** Keeps the user's and the system's git config out of every git the tests run. */
const ISOLATION = { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' } as const;

/**
 * Environment for git children (and CLI subprocesses that run git). It is also
 * exported into this process, so code under test that spawns git inherits it.
 */
export function gitEnv(): NodeJS.ProcessEnv {
  Object.assign(process.env, ISOLATION);
  return { ...process.env };
}

/**
 * simple-git 4 strips inherited GIT_* variables unless they are allowed by
 * name; without this, git would fall back to ~/.gitconfig.
 */
export const GIT_ALLOW_ENVIRONMENT: readonly string[] = Object.keys(ISOLATION);

function git(dir: string): SimpleGit {
  gitEnv();
  return simpleGit({ baseDir: dir, allowEnvironment: GIT_ALLOW_ENVIRONMENT });
}

/** `git init -b main` in an existing dir, with a local test identity. */
export async function initRepo(dir: string): Promise<SimpleGit> {
  const g = git(dir);
  await g.init(['--initial-branch=main']);
  await g.addConfig('user.name', 'schema_backup tests', false, 'local');
  await g.addConfig('user.email', 'tests@schema-backup.invalid', false, 'local');
  return g;
}

export interface LogEntry {
  hash: string;
  message: string;
  /** Paths touched by the commit, relative to the repo root. */
  files: string[];
}

/** Commits on HEAD, newest first; empty for a repo without commits. */
export async function gitLog(dir: string): Promise<LogEntry[]> {
  const g = git(dir);
  if (!(await hasCommits(g))) return [];
  const raw = await g.raw(['log', '--format=%x1e%H%x1f%B%x1f', '--name-only', 'HEAD']);
  return raw
    .split('\x1e')
    .filter((chunk) => chunk.trim())
    .map((chunk) => {
      const [hash, message, files] = chunk.split('\x1f');
      return {
        hash: hash.trim(),
        message: message.trim(),
        files: files
          .split('\n')
          .map((f) => f.trim())
          .filter(Boolean),
      };
    });
}

/** Hash of HEAD, or null when there are no commits yet. */
export async function gitHead(dir: string): Promise<string | null> {
  const g = git(dir);
  if (!(await hasCommits(g))) return null;
  return (await g.revparse(['HEAD'])).trim();
}

async function hasCommits(g: SimpleGit): Promise<boolean> {
  // simple-git does not treat a non-zero exit with empty stderr as an error, so look at the output.
  const out = await g.raw(['rev-parse', '--verify', '--quiet', 'HEAD']).catch(() => '');
  return out.trim() !== '';
}

/**
 * A `git` in `bin` (created) that is the real one except where `fault`, arms of a `case " $* " in`, says
 * otherwise; in an arm, REAL runs the real git and LOG is `bin/refused`, where the arm notes what it did.
 * `env` puts it first on PATH in front of `path`; `refused()` reads what the arms noted.
 */
export async function fakeGit(bin: string, fault: string, path = process.env.PATH ?? ''): Promise<{ env: NodeJS.ProcessEnv; refused: () => string[] }> {
  mkdirSync(bin, { recursive: true });
  const realGit = (await run('sh', ['-c', 'command -v git'])).stdout.trim();
  const log = join(bin, 'refused');
  writeFileSync(join(bin, 'git'), `#!/bin/sh\ncase " $* " in\n${fault.replace(/REAL/g, `'${realGit}'`).replace(/LOG/g, `'${log}'`)}\nesac\nexec '${realGit}' "$@"\n`, { mode: 0o755 });
  return {
    env: { PATH: `${bin}:${path}` },
    refused: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []),
  };
}

/** Runs `body` with a `git` first on PATH that records each command it is given (`status` of `git -C DIR -c K=V status`), then runs the real one. */
export async function countingGit<T>(body: () => Promise<T>): Promise<{ result: T; commands: string[] }> {
  const bin = tempDir('sbt-git-bin-');
  const log = join(bin, 'log');
  writeFileSync(log, '');
  const script = [
    '#!/bin/sh',
    'skip=0; cmd=',
    'for a in "$@"; do',
    '  if [ $skip = 1 ]; then skip=0; continue; fi',
    '  case "$a" in -C|-c) skip=1;; -*) ;; *) cmd=$a; break;; esac',
    'done',
    `echo "$cmd" >> ${JSON.stringify(log)}`,
    'exec /usr/bin/git "$@"',
    '',
  ];
  writeFileSync(join(bin, 'git'), script.join('\n'));
  chmodSync(join(bin, 'git'), 0o755);
  const result = await withEnv({ PATH: `${bin}:${process.env.PATH ?? ''}` }, body);
  return { result, commands: readFileSync(log, 'utf8').split('\n').filter(Boolean).sort() };
}
