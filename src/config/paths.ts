/** Where schema_backup is installed, found from this file's location. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const PACKAGE_NAME = 'schema_backup';

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
