/**
 * The built binaries start from V8's code cache (src/cli/launch.ts, written by
 * scripts/bundle.ts), use it only for the bundle it was made from, and run
 * just as well without it.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CODE_CACHE_ENV } from '../../src/cli/launch';

const DIST = resolve(__dirname, '../../dist');
const CLI_DIR = join(DIST, 'src/cli');
const LAUNCH = join(CLI_DIR, 'launch.js');
const BINARIES = ['schema_backup', 'schema_restore'];

/** Runs `node script args` with the cache use reported on stderr. */
function start(script: string, args: string[]) {
  const run = spawnSync(process.execPath, [script, ...args], { env: { ...process.env, [CODE_CACHE_ENV]: 'report' }, encoding: 'utf8' });
  const line = run.stderr.split('\n').find((l) => l.startsWith('code cache: '));
  return { status: run.status, stdout: run.stdout, cache: line?.slice('code cache: '.length) ?? null };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sbt-code-cache-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A script that launches `bundle` with `cacheFile`. */
async function launcherOf(name: string, bundle: string, cacheFile: string): Promise<string> {
  const script = join(dir, `launch-${name}.js`);
  await writeFile(script, `require(${JSON.stringify(LAUNCH)}).launch(${JSON.stringify(bundle)}, { cacheFile: ${JSON.stringify(cacheFile)} });\n`);
  return script;
}

test.each(BINARIES)('%s starts from the code cache the build wrote, and its main runs', (name) => {
  const run = start(join(CLI_DIR, `${name}.js`), ['--help']);
  expect(run.status).toBe(0);
  expect(run.cache).toBe('accepted');
  expect(run.stdout).toContain(`${name} [`);
});

test.each([
  ['missing', null],
  ['stale', () => Buffer.concat([createHash('sha256').update('another bundle').digest(), Buffer.alloc(4096, 7)])],
  ['rejected', (bundle: Buffer) => Buffer.concat([createHash('sha256').update(bundle).digest(), Buffer.from('not a V8 code cache'.repeat(100))])],
])('with a cache %s the binary compiles its bundle and runs the same', async (kind, makeCache) => {
  const bundle = join(CLI_DIR, 'schema_backup.bundle.js');
  const cache = join(dir, `${kind}.cache`);
  if (makeCache) await writeFile(cache, makeCache(await readFile(bundle)));
  const run = start(await launcherOf(kind, bundle, cache), ['--help']);
  expect(run.status).toBe(0);
  expect(run.cache).toBe(kind);
  expect(run.stdout).toBe(start(join(CLI_DIR, 'schema_backup.js'), ['--help']).stdout);
});

test('a bundle rebuilt to the same length does not run the code cached from the old one (V8 compares lengths only)', async () => {
  const bundle = join(dir, 'tiny.bundle.js');
  const cache = `${bundle}.cache`;
  await writeFile(bundle, "process.stdout.write('old');\n");
  const writer = spawnSync(process.execPath, [join(DIST, 'scripts/write-code-cache.js'), bundle], { encoding: 'utf8' });
  expect(writer.stderr).toBe('');
  const script = await launcherOf('tiny', bundle, cache);
  expect(start(script, [])).toMatchObject({ status: 0, stdout: 'old', cache: 'accepted' });
  await writeFile(bundle, "process.stdout.write('new');\n");
  expect(start(script, [])).toMatchObject({ status: 0, stdout: 'new', cache: 'stale' });
});

test.each(BINARIES)('the %s bundle holds no dynamic import(), which the launcher does not provide for', async (name) => {
  const source = await readFile(join(CLI_DIR, `${name}.bundle.js`), 'utf8');
  expect(source.match(/\bimport\(/g) ?? []).toEqual([]);
});
