/**
 * One run at a time (the one-shot, the daemon's runs, db_upgrade's pre-hook).
 *
 * The lock file is created complete: the owner is written to a private
 * temporary file which is then link()ed to the lock path, which fails if the
 * path exists (the same exclusivity as O_EXCL, but no reader ever sees a
 * half-written lock and mistakes it for garbage).
 *
 * A lock whose owner is dead is taken over by renaming it to a name unique to
 * this process and checking that what was moved is the very file judged
 * stale. If it is not (a racer replaced the stale file with its own live lock
 * in the meantime), it is linked back. So two processes finding the same
 * stale lock never both win. Known limit: with three or more racers inside
 * that window a live lock could be displaced for an instant.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { BusyError } from '../errors';
import type { Logger } from '../log';
import { currentOwner, isOwnerAlive, parseOwner, type Owner } from './process-identity';

export const LOCK_FILE = 'schema_backup.lock';

export interface RunLock {
  readonly path: string;
  readonly owner: Owner;
  /** Removes the lock if it is still ours. Idempotent; never throws. */
  release(): Promise<void>;
}

/** Nonces of the locks this process holds (the daemon's PID outlives its runs). */
const held = new Set<string>();

/** Contention rounds before giving up; each round either wins, or sees a live owner, or removed a stale lock. */
const MAX_ROUNDS = 20;

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

/** Creates stateDir (0700) if missing and takes the run lock, or throws BusyError. */
export async function acquireRunLock(stateDir: string, log: Logger): Promise<RunLock> {
  await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
  const path = join(stateDir, LOCK_FILE);
  const owner = currentOwner();
  const nonce = owner.nonce as string;
  const text = `${JSON.stringify(owner)}\n`;
  const tmp = `${path}.${process.pid}.${nonce}.tmp`;
  await writeSynced(tmp, text);
  try {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      try {
        await fs.link(tmp, path);
        held.add(nonce);
        return makeLock(path, owner, text, log);
      } catch (err) {
        if (!isCode(err, 'EEXIST')) throw err;
      }
      const found = await readIfExists(path);
      if (found === null) continue; // released meanwhile: try again
      const other = parseOwner(found);
      if (other && isOwnerAlive(other, held)) throw new BusyError(busyMessage(other, path));

      const aside = `${path}.stale.${process.pid}.${nonce}`;
      try {
        await fs.rename(path, aside);
      } catch (err) {
        if (isCode(err, 'ENOENT')) continue; // another process took the stale lock away first
        throw err;
      }
      const moved = await readIfExists(aside);
      if (moved === found) {
        log.warn('taking over stale lock', {
          lock: path,
          ...(other ? { pid: other.pid, startedAt: other.startedAt } : { content: 'unreadable' }),
        });
      } else {
        // We moved a racer's fresh lock, not the stale one: put it back.
        await fs.link(aside, path).catch((err: unknown) => {
          log.error('could not put back a lock moved during takeover', { lock: path, err });
        });
      }
      await fs.unlink(aside).catch(() => undefined);
    }
    throw new BusyError(`could not take lock ${path}: contention did not settle`);
  } finally {
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
      held.delete(owner.nonce as string);
      try {
        const now = await readIfExists(path);
        if (now === text) await fs.unlink(path);
        else log.warn('run lock no longer ours at release; left alone', { lock: path });
      } catch (err) {
        log.warn('could not remove run lock', { lock: path, err });
      }
    },
  };
}
