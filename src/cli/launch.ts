/**
 * Starts a bundled binary from V8's code cache. Compiling the 1.6 MB bundle
 * took about 55 ms of every run (a one-row backup took 0.25 s in all); the
 * cache, written by `npm run build` (scripts/bundle.ts), cuts that to the
 * cost of reading it. A cache that does not fit (another Node, other V8
 * flags, a changed bundle) is rejected by V8 and the bundle compiles as
 * usual: the cache only ever changes how fast a run starts.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

/** `write`: save the cache at exit (the build); `report`: say on stderr whether it was used (tests). */
export const CODE_CACHE_ENV = 'SCHEMA_BACKUP_CODE_CACHE';

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

/** Runs `bundle` as the main module, as `node bundle` would. */
export function launch(bundle: string, cacheFile = codeCachePath(bundle)): void {
  // A hashbang is only valid at the very start of a script, not inside the module wrapper.
  const source = readFileSync(bundle, 'utf8').replace(/^#!/, '//');
  const cachedData = readOptional(cacheFile);
  // No importModuleDynamically: the bundles hold no dynamic import() (a test checks), and Node 20 warns on its loader.
  const script = new Script(Module.wrap(source), { filename: bundle, cachedData });
  const mode = process.env[CODE_CACHE_ENV];
  if (mode === 'report') process.stderr.write(`code cache: ${!cachedData ? 'missing' : script.cachedDataRejected ? 'rejected' : 'accepted'}\n`);
  if (mode === 'write') {
    // At exit: the cache then also holds the functions the run compiled, not only the top level.
    process.once('exit', () => {
      writeFileSync(`${cacheFile}.tmp`, script.createCachedData());
      renameSync(`${cacheFile}.tmp`, cacheFile);
    });
  }
  const module = new Module(bundle);
  module.filename = bundle;
  module.loaded = true;
  const require = createRequire(bundle);
  // The bundle is the program: `require.main === module` holds in it, as when node runs it directly.
  require.main = module;
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper.call(module.exports, module.exports, require, module, bundle, dirname(bundle));
}
