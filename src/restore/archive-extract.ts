/**
 * `schema_restore --archive FILE`: unpacks an archive of the API
 * (GET /v1/backups/{snapshot}/archive) into a private temporary directory
 * (0700, files 0600) for the normal restore to read. Only regular files and
 * directories under the archive's two roots are taken; an entry whose name
 * is absolute, holds `..`, a NUL or a backslash, or would land outside the
 * directory, and every link or device, refuses the whole archive (exit 8).
 */
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract as tarExtract } from 'tar-stream';
import { ARCHIVE_HOST_ROOT, ARCHIVE_INFO, ARCHIVE_USER_ROOT, type ArchiveInfo } from '../store/archive-layout';
import { checkHostName } from '../config/host-name';
import { StoreError, VerifyError, errorMessage } from '../errors';
import { isSnapshotName } from '../domain/snapshot-name';

export interface ExtractedArchive {
  dir: string;
  info: ArchiveInfo;
  /** Stand-ins for csv2_backup_dir and user_data_backup_dir (null when the archive has no snapshot). */
  csv2BackupDir: string;
  userDataBackupDir: string | null;
  /** Removes the directory; idempotent. */
  remove(): Promise<void>;
}

/** Why an entry name is refused, or null; pure. */
export function entryNameProblem(name: string): string | null {
  if (name === '' || name.includes('\0')) return 'empty or holds a NUL';
  if (name.startsWith('/')) return 'absolute path';
  if (name.includes('\\')) return 'holds a backslash';
  const parts = name.replace(/\/+$/, '').split('/');
  if (parts.some((p) => p === '..' || p === '.' || p === '')) return 'holds `..`, `.` or an empty part';
  if (name === ARCHIVE_INFO) return null;
  if (parts[0] !== ARCHIVE_HOST_ROOT && parts[0] !== ARCHIVE_USER_ROOT) return `outside ${ARCHIVE_HOST_ROOT}/ and ${ARCHIVE_USER_ROOT}/`;
  return null;
}

function parseInfo(text: string, file: string): ArchiveInfo {
  let info: Partial<ArchiveInfo>;
  try {
    info = JSON.parse(text) as Partial<ArchiveInfo>;
  } catch (err) {
    throw new VerifyError(`${file}: ${ARCHIVE_INFO} is not JSON: ${errorMessage(err)}`);
  }
  if (info.format !== 1 || typeof info.hostName !== 'string' || !(info.snapshot === null || (typeof info.snapshot === 'string' && isSnapshotName(info.snapshot)))) {
    throw new VerifyError(`${file}: ${ARCHIVE_INFO} does not describe a schema_backup archive (format 1)`);
  }
  return { format: 1, hostName: checkHostName(info.hostName, `the host name in ${file}`), snapshot: info.snapshot, createdAt: String(info.createdAt ?? '') };
}

const MAX_INFO_BYTES = 64 * 1024;

export async function extractArchive(file: string, opts: { tmpRoot?: string } = {}): Promise<ExtractedArchive> {
  const dir = await fs.mkdtemp(join(opts.tmpRoot ?? tmpdir(), 'schema_restore-archive-'));
  await fs.chmod(dir, 0o700);
  const remove = () => fs.rm(dir, { recursive: true, force: true });
  const refuse = (name: string, why: string) => new VerifyError(`${file}: archive entry ${JSON.stringify(name)} refused (${why}); nothing was restored`);
  let infoText: string | null = null;
  try {
    const extractor = tarExtract();
    extractor.on('entry', (header, stream, next) => {
      void (async () => {
        const name = header.name;
        const problem = entryNameProblem(name);
        if (problem) throw refuse(name, problem);
        const target = resolve(dir, name);
        // Belt and braces: whatever the checks above let through must still land inside.
        if (!target.startsWith(dir + sep)) throw refuse(name, 'lands outside the extraction directory');
        if (header.type === 'directory') {
          await fs.mkdir(target, { recursive: true, mode: 0o700 });
          stream.resume();
          return;
        }
        if (header.type !== 'file') throw refuse(name, `a ${header.type ?? 'unknown'} entry; only files and directories are taken`);
        if (name === ARCHIVE_INFO) {
          const chunks: Buffer[] = [];
          let size = 0;
          for await (const c of stream as AsyncIterable<Buffer>) {
            size += c.length;
            if (size > MAX_INFO_BYTES) throw refuse(name, 'too large');
            chunks.push(c);
          }
          infoText = Buffer.concat(chunks).toString('utf8');
          return;
        }
        await fs.mkdir(resolve(target, '..'), { recursive: true, mode: 0o700 });
        // 'wx': never through an existing file or link (a second entry of one name is refused too).
        await pipeline(stream, createWriteStream(target, { flags: 'wx', mode: 0o600 }));
      })().then(
        () => next(),
        (err: unknown) => next(err instanceof Error ? err : new Error(String(err))),
      );
    });
    await pipeline(createReadStream(file), createGunzip(), extractor);
  } catch (err) {
    await remove();
    if (err instanceof VerifyError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && (err as NodeJS.ErrnoException).path === file) throw new StoreError(`cannot read archive ${file}: no such file`);
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new VerifyError(`${file}: the archive holds one file twice; nothing was restored`);
    throw new VerifyError(`${file}: not a readable tar.gz archive (${errorMessage(err)}); nothing was restored`, { cause: err });
  }
  if (infoText === null) {
    await remove();
    throw new VerifyError(`${file}: no ${ARCHIVE_INFO}: not an archive of schema_backup's API; nothing was restored`);
  }
  let info: ArchiveInfo;
  try {
    info = parseInfo(infoText, file);
  } catch (err) {
    await remove();
    throw err;
  }
  return {
    dir,
    info,
    csv2BackupDir: join(dir, ARCHIVE_HOST_ROOT),
    userDataBackupDir: info.snapshot ? join(dir, ARCHIVE_USER_ROOT) : null,
    remove: async () => {
      await remove();
    },
  };
}
