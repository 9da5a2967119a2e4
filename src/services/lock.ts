/**
 * One run at a time (the one-shot, the daemon's runs, db_upgrade's pre-hook):
 * the run lock in state_dir, and one inside each backup directory.
 *
 * The lock file is created complete: the owner is written to a private
 * temporary file which is then link()ed to the lock path; link fails if the
 * path exists (the exclusivity of O_EXCL, but no reader ever sees a
 * half-written lock and mistakes it for garbage).
 *
 * Taking over a stale lock needs a compare-and-swap that POSIX lacks, so
 * takeovers of one stale file are serialised by a breaker: the file
 * `<lock>.break.<hash of the stale content>.<k>`, created exclusively. Whoever
 * holds it checks that the lock still has the stale content and atomically
 * rename()s its own file over it; the lock path is never empty meanwhile, and
 * nothing is ever unlinked on a guess. A breaker left by a crashed process is
 * skipped by taking index k+1, so it never blocks (and is never removed
 * while someone may rely on it).
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { BusyError, StoreError, errorMessage } from '../errors';
import type { Logger } from '../log';
import { currentOwner, isOwnerAlive, parseOwner, type Owner } from './process-identity';

export const LOCK_FILE = 'schema_backup.lock';

export interface RunLock {
  readonly path: string;
  readonly owner: Owner;
  /** Removes the lock if it is still ours. Idempotent; never throws. */
  release(): Promise<void>;
}

/**
 * Nonces of this process's lock attempts and held locks: the daemon's PID
 * outlives its runs, so for this process the nonce tells whether a lock or
 * breaker is live.
 */
const live = new Set<string>();

/** Rounds before giving up; each round wins, sees a live owner, or waits for a takeover in progress. */
const MAX_ROUNDS = 200;
/** Breaker indexes tried past crashed holders. */
const MAX_BREAKERS = 16;

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function isCode(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === code;
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await fs.readFile(path, 'utf8');
  } catch (err) {
    if (isCode(err, 'ENOENT')) return null;
    throw err;
  }
}

async function writeSynced(path: string, text: string): Promise<void> {
  const handle = await fs.open(path, 'wx', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function busyMessage(owner: Owner, path: string): string {
  return `another schema_backup run (PID ${owner.pid}, started at ${owner.startedAt}) is active; lock ${path}`;
}

function breakerPrefix(path: string, staleText: string): string {
  return `${path}.break.${createHash('sha256').update(staleText).digest('hex').slice(0, 16)}.`;
}

/**
 * Takes the breaker for one stale lock content. Returns its path, or null
 * when a live process holds it (that process is taking the lock over).
 */
async function takeBreaker(prefix: string, tmp: string): Promise<string | null> {
  for (let k = 0; k < MAX_BREAKERS; k++) {
    const breaker = `${prefix}${k}`;
    try {
      await fs.link(tmp, breaker);
      return breaker;
    } catch (err) {
      if (!isCode(err, 'EEXIST')) throw err;
    }
    const text = await readIfExists(breaker);
    if (text === null) return null; // cleaned up: the stale lock was just replaced
    const holder = parseOwner(text);
    if (holder && isOwnerAlive(holder, live)) return null;
    // Its holder crashed mid-takeover: step past it.
  }
  throw new BusyError(`could not take over stale lock: ${MAX_BREAKERS} crashed takeovers left ${prefix}* behind; remove them`);
}

async function removeBreakers(prefix: string): Promise<void> {
  const dir = dirname(prefix);
  const start = basename(prefix);
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => n.startsWith(start)).map((n) => fs.unlink(join(dir, n)).catch(() => undefined)));
}

/**
 * Removes the temporary files (`<lock>.<pid>.<nonce>.tmp`) of attempts whose process died before it
 * removed its own (a SIGKILL while taking the lock); those of live processes stay. Never throws.
 */
async function removeDeadAttempts(path: string): Promise<void> {
  const dir = dirname(path);
  const prefix = `${basename(path)}.`;
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  await Promise.all(
    names.map(async (name) => {
      const m = name.startsWith(prefix) ? /^(\d+)\.([0-9a-f]+)\.tmp$/.exec(name.slice(prefix.length)) : null;
      if (!m) return;
      const file = join(dir, name);
      // Its text may be cut short by the kill: the name tells the process too.
      const owner = parseOwner((await readIfExists(file).catch(() => null)) ?? '') ?? { pid: Number(m[1]), startedAt: '', nonce: m[2] };
      if (!isOwnerAlive(owner, live)) await fs.unlink(file).catch(() => undefined);
    }),
  );
}

/** Creates stateDir (0700) if missing and takes the run lock, or throws BusyError. */
export async function acquireRunLock(stateDir: string, log: Logger): Promise<RunLock> {
  await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
  return acquireLockFile(join(stateDir, LOCK_FILE), log);
}

/** The lock a run takes inside each backup directory (hidden: never a table file). */
/** Runs `body` holding the run lock of `stateDir` (BusyError, exit 7, while another run holds it). */
export async function withRunLock<T>(stateDir: string, log: Logger, body: () => Promise<T>): Promise<T> {
  const lock = await acquireRunLock(stateDir, log);
  try {
    return await body();
  } finally {
    await lock.release();
  }
}

export const DIR_LOCK_FILE = '.schema_backup.lock';

/**
 * Takes the lock inside an existing backup directory (csv2_backup_dir,
 * user_data_backup_dir), or throws BusyError naming its holder. Two runs with
 * different state_dir (two config files, a daemon and a copy of its config)
 * share no run lock, but never write the same backup directory at once.
 * A directory that cannot hold the lock is a StoreError naming it.
 */
export async function acquireDirLock(dir: string, log: Logger): Promise<RunLock> {
  try {
    return await acquireLockFile(join(dir, DIR_LOCK_FILE), log);
  } catch (err) {
    if (err instanceof BusyError) throw err;
    throw new StoreError(`cannot take the lock ${join(dir, DIR_LOCK_FILE)}: ${errorMessage(err)}; check that ${dir} is a writable directory and run again`, { cause: err });
  }
}

/** Takes the lock at `path` (its directory must exist), or throws BusyError. */
async function acquireLockFile(path: string, log: Logger): Promise<RunLock> {
  const owner = currentOwner();
  const nonce = owner.nonce as string;
  const text = `${JSON.stringify(owner)}\n`;
  const tmp = `${path}.${process.pid}.${nonce}.tmp`;
  live.add(nonce);
  let won = false;
  try {
    await writeSynced(tmp, text);
    for (let round = 0; round < MAX_ROUNDS; round++) {
      try {
        await fs.link(tmp, path);
        won = true;
        await removeDeadAttempts(path);
        return makeLock(path, owner, text, log);
      } catch (err) {
        if (!isCode(err, 'EEXIST')) throw err;
      }
      const found = await readIfExists(path);
      if (found === null) continue; // released meanwhile: try again
      const other = parseOwner(found);
      if (other && isOwnerAlive(other, live)) throw new BusyError(busyMessage(other, path));

      const prefix = breakerPrefix(path, found);
      const breaker = await takeBreaker(prefix, tmp);
      if (breaker === null) {
        await pause(5 + Math.random() * 10); // another process is taking it over: see who won
        continue;
      }
      // Holding the breaker, only we may replace this stale content; check it is still there.
      if ((await readIfExists(path)) === found) {
        log.warn('taking over stale lock', {
          lock: path,
          ...(other ? { pid: other.pid, startedAt: other.startedAt } : { content: 'unreadable' }),
        });
        await fs.rename(tmp, path);
        won = true;
        await removeBreakers(prefix);
        await removeDeadAttempts(path);
        return makeLock(path, owner, text, log);
      }
      await fs.unlink(breaker).catch(() => undefined);
    }
    throw new BusyError(`could not take lock ${path}: contention did not settle`);
  } finally {
    if (!won) live.delete(nonce);
    await fs.unlink(tmp).catch(() => undefined);
  }
}

function makeLock(path: string, owner: Owner, text: string, log: Logger): RunLock {
  let released = false;
  return {
    path,
    owner,
    async release() {
      if (released) return;
      released = true;
      try {
        const now = await readIfExists(path);
        if (now === text) await fs.unlink(path);
        else log.warn('run lock no longer ours at release; left alone', { lock: path });
      } catch (err) {
        log.warn('could not remove run lock', { lock: path, err: errorMessage(err) });
      } finally {
        // Only now may this process's other attempts judge the lock stale.
        live.delete(owner.nonce as string);
      }
    },
  };
}
