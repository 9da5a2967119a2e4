/**
 * Starts a bundled binary from V8's code cache. Compiling the 1.6 MB bundle
 * took about 55 ms of every run; the cache, written by `npm run build`
 * (scripts/bundle.ts), cuts that to the cost of reading it (a one-row backup
 * went from 0.46 to 0.37 s).
 *
 * V8 checks a cache against the source's length only, so a rebuilt bundle of
 * the same length would run the old code: the cache file starts with the
 * sha256 of the bundle it was made from (hashing the bundle takes about a
 * millisecond), and a cache of another bundle is not used. One that V8 itself
 * rejects (another Node, other V8 flags) is not used either: the cache only
 * ever changes how fast a run starts.
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

/** `report`: say on stderr whether the cache was used (tests, diagnosis). */
export const CODE_CACHE_ENV = 'SCHEMA_BACKUP_CODE_CACHE';

const DIGEST_BYTES = 32;

export function codeCachePath(bundle: string): string {
  return `${bundle}.cache`;
}

function readOptional(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

export type CacheUse = 'accepted' | 'rejected' | 'stale' | 'missing' | 'writing';

export interface LaunchOptions {
  cacheFile?: string;
  /** Compile afresh and write the cache at exit (the build; see scripts/write-code-cache.ts). */
  writeCache?: boolean;
}

/** Runs `bundle` as the main module, as `node bundle` would. */
export function launch(bundle: string, options: LaunchOptions = {}): void {
  const cacheFile = options.cacheFile ?? codeCachePath(bundle);
  const text = readFileSync(bundle);
  const digest = createHash('sha256').update(text).digest();
  // A hashbang is only valid at the very start of a script, not inside the module wrapper.
  const source = text.toString('utf8').replace(/^#!/, '//');
  const file = options.writeCache ? undefined : readOptional(cacheFile);
  const fits = file !== undefined && file.length > DIGEST_BYTES && file.subarray(0, DIGEST_BYTES).equals(digest);
  const script = new Script(Module.wrap(source), { filename: bundle, cachedData: fits ? file.subarray(DIGEST_BYTES) : undefined });
  const use: CacheUse = options.writeCache ? 'writing' : file === undefined ? 'missing' : !fits ? 'stale' : script.cachedDataRejected ? 'rejected' : 'accepted';
  if (process.env[CODE_CACHE_ENV] === 'report') process.stderr.write(`code cache: ${use}\n`);
  if (options.writeCache) {
    // At exit: the cache then also holds the functions the run compiled, not only the top level.
    process.once('exit', () => {
      writeFileSync(`${cacheFile}.tmp`, Buffer.concat([digest, script.createCachedData()]));
      renameSync(`${cacheFile}.tmp`, cacheFile);
    });
  }
  const main = new Module(bundle);
  main.filename = bundle;
  main.loaded = true;
  const bundleRequire = createRequire(bundle);
  // The bundle is the program: `require.main === module` holds in it, as when node runs it directly.
  bundleRequire.main = main;
  // No importModuleDynamically: the bundles hold no dynamic import() (a test checks), and Node 20 warns on its loader.
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper.call(main.exports, main.exports, bundleRequire, main, bundle, dirname(bundle));
}
