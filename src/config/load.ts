/**
 * Finding and loading schema_backup.conf: read (read.ts), parse (yaml.ts),
 * validate (validate.ts). Every problem is collected into one ConfigError.
 */
import { dirname, join, resolve } from 'node:path';
import { ConfigError } from '../errors';
import type { ConfigMessage } from '../errors';
import { MAX_CONFIG_BYTES } from './defaults';
import { readTextFile } from './read';
import type { BackupConfig } from './types';
import { validateConfig } from './validate';
import { parseYaml } from './yaml';

export { DEFAULT_SCHEDULE } from './defaults';

export const CONFIG_ENV = 'SCHEMA_BACKUP_CONF';

/** A wall of thousands of messages helps nobody; the first ones point at the trouble. */
const MAX_REPORTED = 100;

/** `--config FILE`, else `$SCHEMA_BACKUP_CONF`, else `<installRoot>/etc/schema_backup.conf`. */
export function resolveConfigPath(opts: { cliPath?: string; env: NodeJS.ProcessEnv; installRoot: string }): string {
  if (opts.cliPath !== undefined && opts.cliPath !== '') return resolve(opts.cliPath);
  const fromEnv = opts.env[CONFIG_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return resolve(fromEnv);
  return join(opts.installRoot, 'etc', 'schema_backup.conf');
}

export interface LoadedConfig {
  config: BackupConfig;
  warnings: ConfigMessage[];
}

/** Reads and validates one file. Throws ConfigError carrying every problem found. */
export function loadConfig(path: string, opts: { installRoot: string }): LoadedConfig {
  const file = resolve(path);
  const text = readTextFile(file, { what: 'configuration file', maxBytes: MAX_CONFIG_BYTES });
  return parseConfigText(text, { file, installRoot: opts.installRoot });
}

/** The same without the file read, for callers (and tests) that already hold the text. */
export function parseConfigText(text: string, opts: { file: string; installRoot: string }): LoadedConfig {
  const file = resolve(opts.file);
  const parsed = parseYaml(text, file);
  // A document that did not parse has no tree to validate; "configuration is empty" would only mislead.
  const validation =
    parsed.root === null && parsed.problems.length > 0
      ? { config: null, errors: [], warnings: [] }
      : validateConfig(parsed.root, { file, baseDir: dirname(file), installRoot: opts.installRoot });
  const errors = [...parsed.problems, ...validation.errors].sort(byLine);
  if (errors.length > 0 || validation.config === null) {
    throw new ConfigError(capped(errors.length > 0 ? errors : [{ file, message: 'invalid configuration' }], file));
  }
  return { config: validation.config, warnings: validation.warnings.sort(byLine) };
}

function byLine(a: ConfigMessage, b: ConfigMessage): number {
  return (a.line ?? 0) - (b.line ?? 0);
}

function capped(errors: ConfigMessage[], file: string): ConfigMessage[] {
  if (errors.length <= MAX_REPORTED) return errors;
  return [...errors.slice(0, MAX_REPORTED), { file, message: `... and ${errors.length - MAX_REPORTED} more problems` }];
}
