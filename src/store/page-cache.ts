/**
 * Drops written, synced ranges of a backup file from the page cache, through
 * native/page_cache.cc (posix_fadvise DONTNEED: Node has no binding for it).
 *
 * A backup writes gigabytes that nothing reads back soon. Left in the page
 * cache they push out what the database server and the host's other services
 * had cached, and each new page costs the kernel a free page found first (on
 * a virtual machine, often a page the host has to back anew). Dropped once on
 * disk, the next writes reuse the same few pages. Where the addon is not built
 * the pages stay cached, as before: nothing else changes.
 */
import bindings from 'bindings';

interface PageCacheAddon {
  dropPageCache(fd: number, offset: number, length: number): number;
}

let addon: PageCacheAddon | null | undefined;

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
  addon ??= load();
  return addon !== null && addon.dropPageCache(fd, offset, length) === 0;
}
