/** Temp directories for tests, removed together by cleanupTempDirs() (call it in afterAll). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const created = new Set<string>();

/** Creates `<os tmpdir>/<prefix>XXXXXX` and registers it for cleanup. */
export function tempDir(prefix = 'sbt-'): string {
  const safe = prefix.replace(/[^A-Za-z0-9._-]/g, '_');
  const dir = mkdtempSync(join(tmpdir(), safe.endsWith('-') ? safe : `${safe}-`));
  created.add(dir);
  return dir;
}

/** Removes every directory tempDir() created so far (missing ones are fine). */
export function cleanupTempDirs(): void {
  for (const dir of created) {
    rmSync(dir, { recursive: true, force: true });
    created.delete(dir);
  }
}
