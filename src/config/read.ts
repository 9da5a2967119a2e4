/**
 * Reading a configuration or credentials file as text, refusing what is not a
 * small UTF-8 text file. The only module of src/config that reads files.
 */
import { closeSync, constants, fstatSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { ConfigError } from '../errors';

export interface ReadTextOptions {
  /** What the file is, for messages ("configuration file", "credentials file"). */
  what: string;
  maxBytes: number;
}

/** The whole file as a string; any problem is a ConfigError naming the file. */
export function readTextFile(file: string, opts: ReadTextOptions): string {
  return readTextAndMode(file, opts).text;
}

/** As readTextFile, with the permission bits of the file that was read (fstat of the same descriptor). */
export function readTextAndMode(file: string, opts: ReadTextOptions): { text: string; mode: number } {
  const fail = (message: string, cause?: unknown): never => {
    throw new ConfigError([{ file, message }], cause === undefined ? undefined : { cause });
  };
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; regular files ignore it.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    return fail(openProblem(err, opts.what), err);
  }
  try {
    const st = fstatSync(fd);
    const mode = st.mode & 0o7777;
    if (st.isDirectory()) fail(`is a directory, not a ${opts.what}: give the path of the file itself`);
    if (!st.isFile()) fail(`is not a regular file (a FIFO, socket or device?): give the path of the ${opts.what}`);
    if (st.size > opts.maxBytes) fail(`${opts.what} is too large (${st.size} bytes; at most ${opts.maxBytes} are accepted)`);
    // Read one byte past the limit, in case the file grew after fstat.
    const buf = Buffer.alloc(Math.min(st.size, opts.maxBytes) + 1);
    let length = 0;
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, length, buf.length - length, null);
      } catch (err) {
        return fail(`cannot read the ${opts.what}: ${codeOf(err)}`, err);
      }
      if (n === 0) break;
      length += n;
      if (length === buf.length) {
        if (length > opts.maxBytes) fail(`${opts.what} is too large (more than ${opts.maxBytes} bytes)`);
        break;
      }
    }
    return { text: decode(buf.subarray(0, length), file, opts.what), mode };
  } finally {
    closeSync(fd);
  }
}

function decode(bytes: Buffer, file: string, what: string): string {
  if (bytes.includes(0)) {
    throw new ConfigError([{ file, message: `contains NUL bytes: this is a binary file, not a ${what}` }]);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (err) {
    throw new ConfigError([{ file, message: `is not valid UTF-8 text: this looks like a binary file, not a ${what}` }], { cause: err });
  }
}

function openProblem(err: unknown, what: string): string {
  switch (codeOf(err)) {
    case 'ENOENT':
      return `${what} does not exist`;
    case 'EACCES':
    case 'EPERM':
      return `cannot read the ${what}: permission denied`;
    case 'ENOTDIR':
      return `${what} does not exist (a part of the path is not a directory)`;
    case 'ELOOP':
      return `cannot open the ${what}: too many levels of symbolic links`;
    default:
      return `cannot open the ${what}: ${codeOf(err)}`;
  }
}

function codeOf(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return err instanceof Error ? err.message : String(err);
}

/**
 * An option file as the mysql clients read one: missing, unreadable or not a
 * text file means it is skipped (null), not an error.
 */
export function readOptionFileQuietly(file: string): { text: string; mode: number } | null {
  try {
    return readTextAndMode(file, { what: 'option file', maxBytes: 1024 * 1024 });
  } catch {
    return null;
  }
}

export function listDirectoryQuietly(dir: string): string[] | null {
  try {
    return readdirSync(dir);
  } catch {
    return null;
  }
}

/** A unix socket at `path` (symbolic links followed). */
export function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}
