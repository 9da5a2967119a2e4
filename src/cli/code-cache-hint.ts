/**
 * The one word the bundle says to its launcher (src/cli/launch.ts, which runs
 * outside the bundle): this process did its main job, so the functions it
 * compiled are the ones every such run needs, and worth keeping in the code cache.
 * Both sides meet at a registered symbol on globalThis, since they share no module instance.
 */

const CODE_CACHE_REFRESH = Symbol.for('schema_backup.codeCacheRefresh');

type Slot = Record<symbol, (() => void) | undefined>;

/** The launcher's side: `listener` runs when the bundle says its run was worth caching. */
export function onCodeCacheWorthKeeping(listener: () => void): void {
  (globalThis as unknown as Slot)[CODE_CACHE_REFRESH] = listener;
}

/** A backup or restore completed: the launcher may write the code cache from this run at exit (once per bundle). */
export function codeCacheWorthKeeping(): void {
  (globalThis as unknown as Slot)[CODE_CACHE_REFRESH]?.();
}
