/** Finding and reading the database credentials file (format handling in credentials-parse.ts). */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../errors';
import { parseCredentialsText } from './credentials-parse';
import { readTextFile } from './read';
import type { DbCredentials } from './types';

/** Where CSV2 keeps its own database settings. */
export const DEFAULT_CREDENTIALS_FILE = '/etc/cloudscheduler/cloudscheduler.yaml';

const MAX_CREDENTIALS_BYTES = 1024 * 1024;

/**
 * `--db-config FILE`, else `db_config:` from schema_backup.conf (already
 * absolute), else the CSV2 default when it exists.
 */
export function loadCredentials(opts: { cliPath?: string; configured: string | null }): DbCredentials {
  const file = credentialsPath(opts);
  const text = readTextFile(file, { what: 'database credentials file', maxBytes: MAX_CREDENTIALS_BYTES });
  return parseCredentialsText(text, file);
}

export function credentialsPath(opts: { cliPath?: string; configured: string | null; defaultFile?: string }): string {
  if (opts.cliPath !== undefined && opts.cliPath !== '') return resolve(opts.cliPath);
  if (opts.configured !== null && opts.configured !== '') return resolve(opts.configured);
  const fallback = opts.defaultFile ?? DEFAULT_CREDENTIALS_FILE;
  if (existsSync(fallback)) return fallback;
  throw new ConfigError([
    {
      file: fallback,
      message: 'no database credentials: the default file does not exist; pass --db-config FILE or set db_config in schema_backup.conf',
    },
  ]);
}
