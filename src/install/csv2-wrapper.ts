/**
 * The wrapper that CSV2's db_upgrade runs as `<root>/utilities/schema_backup`,
 * and the decision whether to write it. Pure: text in, text or decision out.
 *
 * db_upgrade passes neither --config nor a working directory, so the wrapper
 * names the root in $SCHEMA_BACKUP_ROOT: schema_backup then reads
 * `<root>/etc/schema_backup.conf` and defaults csv2_backup_dir to
 * `<root>/schema/schema_backup`, where db_upgrade reads the tables back.
 */
import { join } from 'node:path';
import { ROOT_ENV } from '../config/paths';
import { CONFIG_ENV } from '../config/load';

/** Where db_upgrade looks for schema_backup, relative to the CSV2 root. */
export const WRAPPER_SUBPATH = join('utilities', 'schema_backup');

/** The second line of every wrapper: how a rerun recognises its own file. */
export const WRAPPER_MARKER = '# schema_backup-csv2-wrapper: written by schema_backup install-csv2; rerun that to change it';

/** A file larger than this cannot be a wrapper (ours is under 2 KiB): its content is not read. */
export const MAX_WRAPPER_BYTES = 64 * 1024;

export interface WrapperTarget {
  /** Absolute CSV2 root, e.g. /opt/cloudscheduler. */
  root: string;
  /** Absolute node binary that runs the CLI. */
  node: string;
  /** Absolute dist/src/cli/schema_backup.js of this installation. */
  cli: string;
  /** Absolute schema_backup install directory, for the reinstall hint. */
  installDir: string;
}

/** A path fit for the wrapper: absolute, one line (it also appears in comments and messages). */
export function wrapperPathProblem(path: string): string | null {
  if (!path.startsWith('/')) return 'is not an absolute path';
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'contains a control character (newline, tab...)';
  return null;
}

/** POSIX shell single quotes: safe for any byte but NUL. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The wrapper's text. It holds paths only: no credentials, no environment of
 * the installing shell. Arguments go through unchanged ("$@"), so subcommands
 * (`status`, `verify`) and every flag work through it as they do directly.
 */
export function renderWrapper(t: WrapperTarget): string {
  const q = shellQuote;
  const reinstall = `cd ${q(t.installDir)} && npm run install-csv2 -- --root ${q(t.root)}`;
  return [
    '#!/bin/sh',
    WRAPPER_MARKER,
    '#',
    `# CSV2's db_upgrade runs this as ${join(t.root, WRAPPER_SUBPATH)} (without --config).`,
    `# Defaults come from ${t.root}: the configuration ${join(t.root, 'etc', 'schema_backup.conf')},`,
    `# and ${join(t.root, 'schema', 'schema_backup')} when it sets no csv2_backup_dir.`,
    `# $${CONFIG_ENV} of the caller is dropped: this root's file is meant, unless --config says otherwise.`,
    `# Reinstall (after moving schema_backup or node): ${reinstall}`,
    `${ROOT_ENV}=${q(t.root)}`,
    `export ${ROOT_ENV}`,
    `unset ${CONFIG_ENV}`,
    `node=${q(t.node)}`,
    `cli=${q(t.cli)}`,
    'if [ ! -x "$node" ] || [ ! -f "$cli" ]; then',
    `  echo "schema_backup: $node or $cli is missing (moved or removed?): reinstall the wrapper: ${reinstall.replace(/["\\$`]/g, '\\$&')}" >&2`,
    '  exit 127',
    'fi',
    'exec "$node" "$cli" "$@"',
    '',
  ].join('\n');
}

/** What is at the wrapper's path now. */
export type Existing =
  | { kind: 'missing' }
  | { kind: 'file'; executable: boolean; /** null when too large to be a wrapper. */ content: string | null }
  | { kind: 'symlink' }
  | { kind: 'directory' }
  | { kind: 'other' };

export type InstallDecision =
  | { action: 'create' | 'update' | 'unchanged' | 'replace' }
  | { action: 'refuse'; reason: string };

export function isOwnWrapper(content: string | null): boolean {
  return content !== null && content.split('\n', 3)[1] === WRAPPER_MARKER;
}

/**
 * create: nothing there. unchanged: the same wrapper, executable (no write).
 * update: an older wrapper of ours. replace: something else, with --force.
 * refuse: something else without --force, or a directory or device, which
 * is never replaced (the reason says which).
 */
export function decideInstall(existing: Existing, wanted: string, force: boolean): InstallDecision {
  switch (existing.kind) {
    case 'missing':
      return { action: 'create' };
    case 'directory':
      return { action: 'refuse', reason: 'is a directory: remove or rename it, then install again' };
    case 'other':
      return { action: 'refuse', reason: 'is not a regular file (a FIFO, socket or device?): remove it, then install again' };
    case 'symlink':
      return force
        ? { action: 'replace' }
        : { action: 'refuse', reason: 'is a symbolic link, not a schema_backup wrapper: pass --force to replace the link (its target is left alone)' };
    case 'file':
      if (existing.content === wanted) return { action: existing.executable ? 'unchanged' : 'update' };
      if (isOwnWrapper(existing.content)) return { action: 'update' };
      return force
        ? { action: 'replace' }
        : { action: 'refuse', reason: 'exists and is not a schema_backup wrapper (CSV2\'s own schema_backup?): pass --force to replace it' };
  }
}
