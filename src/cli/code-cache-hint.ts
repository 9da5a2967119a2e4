/**
 * The one word the bundle says to its launcher (src/cli/launch.ts, which runs
 * outside the bundle): this process did its main job, so the functions it
 * compiled are the ones every such run needs, and worth keeping in the code cache.
 */

/** Where the launcher leaves its callback; a registered symbol, so both sides name it without sharing a module instance. */
export const CODE_CACHE_REFRESH = Symbol.for('schema_backup.codeCacheRefresh');

/** A backup or restore completed: the launcher may write the code cache from this run at exit (once per bundle). */
export function codeCacheWorthKeeping(): void {
  const refresh = (globalThis as Record<symbol, unknown>)[CODE_CACHE_REFRESH];
  if (typeof refresh === 'function') (refresh as () => void)();
}
