/** Where schema_backup is installed, found from this file's location, and the root its defaults come from. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const PACKAGE_NAME = 'schema_backup';

/**
 * Set by the CSV2 wrapper (`<root>/utilities/schema_backup`, see src/install):
 * db_upgrade runs it without --config, so the defaults must come from that root.
 */
export const ROOT_ENV = 'SCHEMA_BACKUP_ROOT';

let cached: string | null = null;

/**
 * The project's top folder: the nearest ancestor of this module whose
 * package.json is named "schema_backup". Walking up (rather than a fixed
 * `../..`) makes it work from src/ under ts-jest and from dist/src/ after build.
 */
export function installRoot(): string {
  if (cached === null) cached = findInstallRoot(__dirname);
  return cached;
}

/**
 * The root whose `etc/schema_backup.conf` and `schema/schema_backup` are the
 * defaults: `$SCHEMA_BACKUP_ROOT` when set (relative: from the current
 * directory, as `$SCHEMA_BACKUP_CONF`), else the install root. Read only at
 * the entry points, which pass it down.
 */
export function defaultsRoot(env: NodeJS.ProcessEnv): string {
  const fromEnv = env[ROOT_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return resolve(fromEnv);
  return installRoot();
}

/** Exposed for tests: the same search from any starting directory. */
export function findInstallRoot(start: string): string {
  let dir = start;
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && packageName(manifest) === PACKAGE_NAME) return dir;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`cannot find the ${PACKAGE_NAME} install root above ${start} (no package.json named "${PACKAGE_NAME}")`);
    }
    dir = parent;
  }
}

function packageName(manifest: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(readFileSync(manifest, 'utf8'));
    if (parsed !== null && typeof parsed === 'object' && 'name' in parsed && typeof parsed.name === 'string') {
      return parsed.name;
    }
  } catch {
    // An unreadable or foreign package.json just means: keep walking up.
  }
  return undefined;
}
