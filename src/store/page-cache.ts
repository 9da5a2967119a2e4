/**
 * Drops written, synced ranges of a user-data snapshot's files from the page
 * cache, through native/page_cache.cc (posix_fadvise DONTNEED: Node has no
 * binding for it).
 *
 * A snapshot is gigabytes that nothing reads back soon (only a restore, if
 * ever). Left in the page cache they push out what the database server and
 * the host's other services had cached, and each new page costs the kernel a
 * free page found first (on a virtual machine, often a page the host has to
 * back anew). Dropped once on disk, the next writes reuse the same few pages.
 * Files in csv2_backup_dir stay cached: git hashes them next. Where the module
 * is not built the pages stay cached, as before: nothing else changes.
 */
import bindings from 'bindings';

interface PageCacheAddon {
  dropPageCache(fd: number, offset: number, length: number): number;
}

/** undefined until first used; null where the module is not built (then not looked for again). */
let addon: PageCacheAddon | null | undefined;

function loaded(): PageCacheAddon | null {
  if (addon === undefined) addon = load();
  return addon;
}

function load(): PageCacheAddon | null {
  try {
    const loaded = bindings('page_cache') as Partial<PageCacheAddon>;
    return typeof loaded.dropPageCache === 'function' ? (loaded as PageCacheAddon) : null;
  } catch {
    return null;
  }
}

/**
 * Asks the kernel to drop bytes [offset, offset + length) of the open file `fd` from the page cache; only pages
 * already on disk go (dirty ones stay). Returns false where it could not (no addon, or the kernel refused).
 */
export function dropPageCache(fd: number, offset: number, length: number): boolean {
  const found = loaded();
  return found !== null && found.dropPageCache(fd, offset, length) === 0;
}

/** Whether the native module is built and loads (the tests say so plainly where it is not). */
export function pageCacheModuleLoaded(): boolean {
  return loaded() !== null;
}
