/**
 * Finding and reading the database credentials file (format handling in
 * credentials-parse.ts), warning when others can read it, and choosing the
 * socket for `localhost` (socket.ts) from the standard option files.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../errors';
import type { ConfigMessage } from '../errors';
import { readClientSettings, standardOptionFiles } from './client-options';
import type { OptionFileSystem } from './client-options';
import { parseCredentialsText } from './credentials-parse';
import { isSocket, listDirectoryQuietly, readOptionFileQuietly, readTextAndMode } from './read';
import { needsSocketLookup, resolveTransport } from './socket';
import type { DbCredentials } from './types';

/** Where CSV2 keeps its own database settings. */
export const DEFAULT_CREDENTIALS_FILE = '/etc/cloudscheduler/cloudscheduler.yaml';

const MAX_CREDENTIALS_BYTES = 1024 * 1024;

export interface CredentialsLookup {
  cliPath?: string;
  configured: string | null;
}

/** What the socket lookup may see of the machine; tests pass their own. */
export interface ClientEnvironment {
  optionFiles: OptionFileSystem;
  /** For `~/.my.cnf`; null when HOME is unset (mysys then skips it too). */
  home: string | null;
  socketExists: (path: string) => boolean;
}

export function systemClientEnvironment(env: NodeJS.ProcessEnv = process.env): ClientEnvironment {
  return {
    optionFiles: { readFile: readOptionFileQuietly, listDirectory: listDirectoryQuietly },
    home: env.HOME || null,
    socketExists: isSocket,
  };
}

export interface LoadedCredentials {
  credentials: DbCredentials;
  /** Problems that do not stop the run (an exposed file, an option file ignored). */
  warnings: ConfigMessage[];
}

/**
 * `--db-config FILE`, else `db_config:` from schema_backup.conf (already
 * absolute), else the CSV2 default when it exists. Throws ConfigError.
 */
export function readCredentials(lookup: CredentialsLookup, client: ClientEnvironment = systemClientEnvironment()): LoadedCredentials {
  const file = credentialsPath(lookup);
  const { text, mode } = readTextAndMode(file, { what: 'database credentials file', maxBytes: MAX_CREDENTIALS_BYTES });
  const parsed = parseCredentialsText(text, file);
  const warnings: ConfigMessage[] = [];
  const exposed = exposureWarning(file, mode);
  if (exposed !== null) warnings.push(exposed);
  // The option files are read only when they can matter, as by the clients.
  const { settings, skipped } = needsSocketLookup(parsed)
    ? readClientSettings(standardOptionFiles(client.home), client.optionFiles)
    : { settings: [], skipped: [] };
  for (const s of skipped) warnings.push({ file: s.file, message: s.reason });
  return { credentials: resolveTransport(parsed, { clientSettings: settings, socketExists: client.socketExists }), warnings };
}

/** readCredentials without the warnings (for callers with no one to tell). */
export function loadCredentials(lookup: CredentialsLookup, client?: ClientEnvironment): DbCredentials {
  return readCredentials(lookup, client).credentials;
}

/** As ssh and the mysql clients do for their own files: a warning, and the run goes on. */
export function exposureWarning(file: string, mode: number): ConfigMessage | null {
  const who = [(mode & 0o040) !== 0 ? 'its group' : null, (mode & 0o004) !== 0 ? 'all users' : null].filter((w) => w !== null);
  if (who.length === 0) return null;
  const octal = (mode & 0o777).toString(8).padStart(4, '0');
  return {
    file,
    message: `readable by ${who.join(' and ')} (mode ${octal}): the database password is exposed; run \`chmod go-rwx ${file}\``,
  };
}

export function credentialsPath(opts: CredentialsLookup & { defaultFile?: string }): string {
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
