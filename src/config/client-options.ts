/**
 * The settings the mysql/mariadb clients take from the standard option files:
 * the files in the clients' order, `!include`/`!includedir` followed as mysys
 * follows them, only the client groups kept. File access goes through
 * OptionFileSystem, so this is tested without touching /etc.
 */
import { join } from 'node:path';
import { parseOptionFile } from './option-file';

/** The groups the mysql client reads (client/mysql.cc load_default_groups). */
export const CLIENT_GROUPS: readonly string[] = ['client', 'client-server', 'client-mariadb', 'mysql', 'mariadb-client'];

/** Read in this order, a later setting overriding an earlier one (the defaults-file search of mysys on Unix). */
export function standardOptionFiles(home: string | null): string[] {
  return ['/etc/my.cnf', '/etc/mysql/my.cnf', ...(home ? [join(home, '.my.cnf')] : [])];
}

export interface ClientSetting {
  file: string;
  line: number;
  group: string;
  /** Normalised option name (`socket`, `port`, ...). */
  name: string;
  value: string | null;
}

/** An option file left out, and why (mysys skips these too, some with a warning). */
export interface SkippedOptionFile {
  file: string;
  reason: string;
}

export interface OptionFileSystem {
  /** Text and permission bits of a regular file; null when it is missing or cannot be read. */
  readFile(path: string): { text: string; mode: number } | null;
  /** Entry names of a directory; null when it cannot be listed. */
  listDirectory(path: string): string[] | null;
}

/** mysys's max_recursion_level: also what stops an include cycle. */
const MAX_INCLUDE_DEPTH = 10;

export function readClientSettings(files: readonly string[], fs: OptionFileSystem): { settings: ClientSetting[]; skipped: SkippedOptionFile[] } {
  const settings: ClientSetting[] = [];
  const skipped: SkippedOptionFile[] = [];

  const readOne = (file: string, depth: number): void => {
    const content = fs.readFile(file);
    if (content === null) return;
    // As mysys: anyone could have put options there.
    if ((content.mode & 0o002) !== 0) {
      skipped.push({ file, reason: 'world-writable, ignored as the mysql clients ignore it' });
      return;
    }
    for (const item of parseOptionFile(content.text, file).items) {
      if (item.kind === 'option') {
        if (CLIENT_GROUPS.includes(item.group)) settings.push({ file, line: item.line, group: item.group, name: item.name, value: item.value });
        continue;
      }
      if (depth + 1 >= MAX_INCLUDE_DEPTH) {
        skipped.push({ file: item.path, reason: `!${item.kind} at ${file}:${item.line} not followed: includes nested too deep` });
        continue;
      }
      if (item.kind === 'include') {
        readOne(item.path, depth + 1);
        continue;
      }
      // mysys sorts the directory and reads only `*.cnf` on Unix.
      const names = fs.listDirectory(item.path) ?? [];
      for (const name of [...names].filter((n) => n.endsWith('.cnf')).sort()) readOne(join(item.path, name), depth + 1);
    }
  };

  for (const file of files) readOne(file, 0);
  return { settings, skipped };
}
