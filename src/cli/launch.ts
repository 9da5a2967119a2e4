/**
 * Starts a bundled binary from V8's code cache. Compiling the 1.6 MB bundle
 * took about 55 ms of every run; the cache, written by `npm run build`
 * (scripts/bundle.ts), cuts that to the cost of reading it (a one-row backup
 * went from 0.46 to 0.37 s).
 *
 * The build's cache comes from a `--help` run: it holds the top level, but not
 * the functions a backup compiles as it goes (connecting, reading rows, git).
 * So the first backup or restore that completes writes the cache again at its
 * exit, from what it compiled (a one-row backup: median 138 -> 128 ms). That
 * happens once per bundle (the header says whose run made the cache), never for
 * a failed run, nor for a run with Node options of its own (they may change
 * V8's flags, which a cache must match: runs with and without them would take
 * turns rewriting it). A cache that cannot be written (a read-only install) is
 * left as it is, and costs such a run one failed open.
 *
 * V8 checks a cache against the source's length only, so a rebuilt bundle of
 * the same length would run the old code: the cache file starts with the
 * sha256 of the bundle it was made from (hashing the bundle takes about a
 * millisecond), and a cache of another bundle is not used. One that V8 itself
 * rejects (another Node, other V8 flags) is not used either, and is written
 * again by the next completed run: the cache only ever changes how fast a run starts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';
import { onCodeCacheWorthKeeping } from './code-cache-hint';

/** `report`: say on stderr whether the cache was used (tests, diagnosis). */
export const CODE_CACHE_ENV = 'SCHEMA_BACKUP_CODE_CACHE';

const DIGEST_BYTES = 32;
/** The byte after the digest: who made the cache. */
const ORIGIN = { build: 0x42 /* B: the build's --help run */, run: 0x52 /* R: a completed backup or restore */ } as const;
const HEADER_BYTES = DIGEST_BYTES + 1;

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

function report(line: string): void {
  if (process.env[CODE_CACHE_ENV] === 'report') process.stderr.write(`code cache: ${line}\n`);
}

/**
 * Writes the cache beside the bundle under a name no other writer uses, opened exclusively (no planted link is
 * followed) before V8 serialises anything, synced, and readable by all as the build left it whatever the umask; then
 * renames it over the old one: a reader sees one whole cache or the other.
 */
function writeCache(cacheFile: string, digest: Buffer, origin: number, script: Script): void {
  const tmp = `${cacheFile}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o644);
  try {
    try {
      fchmodSync(fd, 0o644);
      writeFileSync(fd, Buffer.concat([digest, Buffer.of(origin), script.createCachedData()]));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, cacheFile);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Node options given to this process (on its command line or in NODE_OPTIONS): a cache it wrote might not fit the others. */
function hasNodeOptions(): boolean {
  return process.execArgv.length > 0 || (process.env.NODE_OPTIONS ?? '').trim() !== '';
}

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
  const origin = file?.[DIGEST_BYTES];
  const fits = file !== undefined && file.length > HEADER_BYTES && file.subarray(0, DIGEST_BYTES).equals(digest) && (origin === ORIGIN.build || origin === ORIGIN.run);
  const script = new Script(Module.wrap(source), { filename: bundle, cachedData: fits ? file.subarray(HEADER_BYTES) : undefined });
  const use: CacheUse = options.writeCache ? 'writing' : file === undefined ? 'missing' : !fits ? 'stale' : script.cachedDataRejected ? 'rejected' : 'accepted';
  report(use);
  if (options.writeCache) {
    // At exit: the cache then also holds the functions the run compiled, not only the top level.
    process.once('exit', () => writeCache(cacheFile, digest, ORIGIN.build, script));
  } else if ((use !== 'accepted' || origin !== ORIGIN.run) && !hasNodeOptions()) {
    let wanted = false;
    onCodeCacheWorthKeeping(() => {
      wanted = true;
    });
    process.once('exit', (code) => {
      if (!wanted || code !== 0) return;
      try {
        writeCache(cacheFile, digest, ORIGIN.run, script);
        report('refreshed from this run');
      } catch (err) {
        // Only speed is at stake: the next run starts from the cache there is, or compiles.
        report(`not refreshed (${err instanceof Error ? err.message : String(err)})`);
      }
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
