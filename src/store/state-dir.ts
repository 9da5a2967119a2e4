/**
 * state_dir holds the run lock, the recovery records and status.json. It is
 * checked (created if missing, then probed for writing) before the lock is
 * taken, so a read-only or unwritable one is a storage error naming it, not
 * an internal error with a bare EACCES/EROFS from deep inside the lock.
 */
import { constants, promises as fs } from 'node:fs';
import { StoreError, errorMessage } from '../errors';

/** Throws StoreError naming `dir`, the configuration file that sets it, and what to do. */
export async function checkStateDir(dir: string, configFile: string): Promise<void> {
  try {
    const stat = await fs.stat(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw err;
    });
    if (stat && !stat.isDirectory()) throw new Error('exists and is not a directory');
    if (!stat) {
      // A recursive mkdir reports EROFS and EACCES as ENOENT: the plain one first, so the message names the real cause.
      await fs.mkdir(dir, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
        return fs.mkdir(dir, { recursive: true, mode: 0o700 });
      });
    }
    // access(2) answers EROFS for a read-only mount, EACCES for a directory this user cannot write.
    await fs.access(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new StoreError(
      `state_dir ${dir} cannot be used: ${errorMessage(err)}. schema_backup keeps its run lock, recovery records and ` +
        `status.json there: make it a writable directory (under systemd, list it in ReadWritePaths= of the unit), ` +
        `or set state_dir in ${configFile} to one`,
      { cause: err },
    );
  }
}
