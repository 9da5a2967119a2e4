/**
 * Table name -> file name. db_upgrade reads `HOST/<table>` by the table's own
 * name, so ordinary names are used verbatim. Anything that could act as a path
 * (a slash, `.`/`..`, a leading dot, control characters) is encoded as `@XXXX`
 * (like MariaDB's own file names), and `@` itself is encoded so the mapping stays
 * one-to-one. Dot-files are thereby reserved for schema_backup's own files.
 */
import { createHash } from 'node:crypto';

const MAX_FILE_NAME_BYTES = 255;

function needsEncoding(ch: string, index: number): boolean {
  const code = ch.codePointAt(0) as number;
  return ch === '/' || ch === '\\' || ch === '@' || code < 0x20 || code === 0x7f || (index === 0 && ch === '.');
}

export function tableFileName(table: string): string {
  let out = '';
  let i = 0;
  for (const ch of table) {
    out += needsEncoding(ch, i) ? `@${(ch.codePointAt(0) as number).toString(16).padStart(4, '0')}` : ch;
    i++;
  }
  if (Buffer.byteLength(out) > MAX_FILE_NAME_BYTES) {
    // 64 four-byte characters exceed a file name's 255 bytes: keep a readable prefix and a hash (the manifest maps it back).
    const hash = createHash('sha256').update(table).digest('hex').slice(0, 16);
    let prefix = '';
    for (const ch of out) {
      if (Buffer.byteLength(prefix + ch) > 200) break;
      prefix += ch;
    }
    out = `${prefix}@${hash}`;
  }
  return out;
}

/**
 * schema_backup's own files live in this subdirectory: db_upgrade reads every
 * plain file of a backup directory as a table, and a directory is not one.
 * tableFileName never yields a leading dot, so no table can collide with it.
 */
export const META_DIR = '.schema_backup';
export const VIEWS_FILE = `${META_DIR}/views.sql`;
export const MANIFEST_FILE = `${META_DIR}/manifest.json`;
export const TMP_DIR = `${META_DIR}/tmp`;

/** A table's file in a user-data snapshot: compressed files say so (db_upgrade cannot read them directly). */
export function userDataFileName(file: string, gzip: boolean): string {
  return gzip ? `${file}.gz` : file;
}
