/**
 * The second half of `npm run build` (after tsc): bundles each binary into one
 * file with esbuild (one file to read and compile instead of hundreds of
 * modules to find), puts a small launcher at the binary's usual path, and
 * writes the bundle's V8 code cache by running it once (`--help`, through
 * scripts/write-code-cache.ts).
 * Native and ESM-only packages stay outside the bundle.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { readFile } from 'node:fs/promises';
import { build, type Plugin } from 'esbuild';
import { codeCachePath } from '../src/cli/launch';

const ROOT = resolve(__dirname, '../..');
const CLI_OUT = join(ROOT, 'dist/src/cli');
const BINARIES = ['schema_backup', 'schema_restore'];
const EXTERNAL = ['better-sqlite3', 'bindings', 'node-cron', 'fastify', 'systemd-notify'];

/**
 * mysql2's table of error names (2,000 assignments, required by its packet parser at load) is built at its first
 * use, an error packet, instead of at every start (about 15 ms of it). mysql2 only reads it (packet.js, pool.js,
 * server_handshake.js: property reads), so the proxy has no set trap.
 */
const lazyMysql2ErrorNames: Plugin = {
  name: 'lazy-mysql2-error-names',
  setup(b) {
    b.onLoad({ filter: /[\\/]mysql2[\\/]lib[\\/]constants[\\/]errors\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      return {
        loader: 'js',
        resolveDir: dirname(args.path),
        contents: [
          "'use strict';",
          'let names;',
          'const load = () => (names ??= ((module) => {',
          '  ((exports, module) => {',
          source,
          '  })(module.exports, module);',
          '  return module.exports;',
          '})({ exports: {} }));',
          'module.exports = new Proxy({}, {',
          '  get: (_, key) => load()[key],',
          '  has: (_, key) => key in load(),',
          '  ownKeys: () => Reflect.ownKeys(load()),',
          '  getOwnPropertyDescriptor: (_, key) => {',
          '    const d = Reflect.getOwnPropertyDescriptor(load(), key);',
          '    return d && { ...d, configurable: true };',
          '  },',
          '});',
        ].join('\n'),
      };
    });
  },
};

function launcherSource(bundleFile: string): string {
  return [
    '#!/usr/bin/env node',
    '// Written by scripts/bundle.ts: the binary is the bundle beside it, started from its code cache (src/cli/launch.ts).',
    "'use strict';",
    `require('./launch').launch(require('node:path').join(__dirname, ${JSON.stringify(bundleFile)}));`,
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  for (const name of BINARIES) {
    const bundleFile = `${name}.bundle.js`;
    const bundle = join(CLI_OUT, bundleFile);
    await build({
      entryPoints: [join(ROOT, `src/cli/${name}.ts`)],
      outfile: bundle,
      bundle: true,
      platform: 'node',
      target: 'node20',
      external: EXTERNAL,
      // Minified: unminified, the bundle's parse memory raised the export's peak RSS by 20 MB. Names stay for stack traces.
      minify: true,
      keepNames: true,
      // winston's debug helper (@dabh/diagnostics) then takes its no-op build: its development build loads a colour
      // library whose tables took about 10 ms of every start. Nothing else in the bundle reads NODE_ENV.
      define: { 'process.env.NODE_ENV': '"production"' },
      plugins: [lazyMysql2ErrorNames],
      logLevel: 'warning',
    });
    const launcher = join(CLI_OUT, `${name}.js`);
    writeFileSync(launcher, launcherSource(bundleFile));
    chmodSync(launcher, 0o755);
    // tsc's source map was of the module the launcher replaces.
    rmSync(`${launcher}.map`, { force: true });
    const cache = codeCachePath(bundle);
    rmSync(cache, { force: true });
    // Without the shell's NODE_OPTIONS: V8 flags there would make every run without them reject the cache.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS'));
    const run = spawnSync(process.execPath, [join(__dirname, 'write-code-cache.js'), bundle, '--help'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    if (run.status !== 0 || !existsSync(cache)) {
      throw new Error(`${name} --help failed while writing its code cache (exit ${run.status}): ${run.stderr.toString().trim()}`);
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bundle: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
