/** Small filesystem helpers shared by the stores: private directories, durable renames. */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { StoreError, errorMessage } from '../errors';

export async function syncDir(dir: string): Promise<void> {
  await syncFile(dir);
}

/** fsync of a file or directory by path. */
export async function syncFile(path: string): Promise<void> {
  const handle = await fs.open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Creates (if needed) a directory; `mode` is applied explicitly so the umask cannot widen or narrow it. */
export async function ensureDir(dir: string, mode?: number): Promise<void> {
  try {
    const stat = await fs.stat(dir).catch(() => null);
    if (stat && !stat.isDirectory()) throw new Error('exists and is not a directory');
    if (!stat) {
      // A recursive mkdir reports EROFS and ENOSPC as ENOENT: try the plain one first, so the message names the real cause.
      await fs.mkdir(dir, { mode: mode ?? 0o755 }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
        return fs.mkdir(dir, { recursive: true, mode: mode ?? 0o755 });
      });
    }
    if (mode !== undefined && (!stat || (stat.mode & 0o777) !== mode)) await fs.chmod(dir, mode);
  } catch (err) {
    throw new StoreError(`cannot use directory ${dir}: ${errorMessage(err)}; create it (or fix its type and permissions) and run again`, { cause: err });
  }
}

/** Writes a small file atomically: temp file, fsync, rename, fsync of the directory. */
export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const handle = await fs.open(tmp, 'w', mode);
    try {
      await handle.chmod(mode);
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, path);
    await syncDir(dirname(path));
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw new StoreError(`cannot write ${path}: ${errorMessage(err)}`, { cause: err });
  }
}

export async function fileSha256(path: string): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('error', (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? resolve(null) : reject(err)))
      .on('data', (d) => hash.update(d))
      .on('end', () => resolve(hash.digest('hex')));
  });
}
