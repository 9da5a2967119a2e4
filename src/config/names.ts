/**
 * Which table and service names schema_backup.conf may hold. Pure.
 *
 * Table names become file names in the backup directory and identifiers in
 * SQL, so anything that could escape either (quotes, backticks, slashes, `..`,
 * control characters) is refused, even where MariaDB itself would allow it.
 */
import { MAX_TABLE_NAME_LENGTH } from './defaults';

/** Returns why `name` is not an acceptable table name, or null when it is. */
export function tableNameProblem(name: string): string | null {
  if (name.length === 0) return 'empty table name: remove the item or write the name';
  const length = [...name].length;
  if (length > MAX_TABLE_NAME_LENGTH) {
    return `table name is ${length} characters long; MariaDB allows at most ${MAX_TABLE_NAME_LENGTH}`;
  }
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return 'table name contains a control character (NUL, newline, tab...)';
  if (/\.\.[/\\]/.test(name)) return 'table name contains `../`, a path: a table name must not point outside the backup directory';
  const bad = /[`'"/\\]/.exec(name);
  if (bad) return `table name contains ${describe(bad[0])}, which is not allowed in a table name`;
  if (name === '.' || name === '..') return `\`${name}\` is not a table name`;
  if (name.endsWith(' ')) return 'table name ends with a space (MariaDB does not allow that): remove the space or quote the name correctly';
  return null;
}

/** systemd unit names as systemctl accepts them, without shell or option tricks. */
const UNIT_NAME = /^[A-Za-z0-9:_.@-]+$/;

/** Returns why `name` is not an acceptable systemd service name, or null when it is. */
export function serviceNameProblem(name: string): string | null {
  if (name.length === 0) return 'empty service name: remove the item or write the name';
  if (name.startsWith('-')) return 'a service name must not start with `-` (systemctl would read it as an option)';
  if (name.length > 256) return 'service name is longer than 256 characters';
  if (!UNIT_NAME.test(name)) {
    return 'a service name may contain only letters, digits and `:_.@-` (e.g. `csv2-main` or `mariadb.service`)';
  }
  return null;
}

function describe(ch: string): string {
  switch (ch) {
    case '`':
      return 'a backtick';
    case "'":
      return 'a single quote';
    case '"':
      return 'a double quote';
    case '/':
      return 'a slash `/`';
    default:
      return 'a backslash `\\`';
  }
}
