/**
 * The two hot paths go below mysql2's public API: the backup's row reader
 * takes raw row packets (dump/rows.ts), the restore sends statements as the
 * file's bytes (query-bytes.ts). Both rely on internals of one release, so
 * package.json pins exactly it, and each checks at use that what it relies
 * on is there: a changed mysql2 is a clear error, never a wrong result.
 */
import { DatabaseError } from '../errors';

/** The mysql2 release both were written and tested against; package.json pins exactly this one. */
export const MYSQL2_VERSION = '3.24.6';

export function installedMysql2(): string {
  try {
    return (require('mysql2/package.json') as { version: string }).version;
  } catch {
    return '(version unknown)';
  }
}

export function internalsChanged(what: string): DatabaseError {
  return new DatabaseError(
    `mysql2 ${installedMysql2()} changed its internals (${what}); schema_backup needs exactly mysql2 ${MYSQL2_VERSION}: ` +
      `reinstall its dependencies as package-lock.json pins them (npm ci)`,
  );
}
