/**
 * The built binaries start from V8's code cache (src/cli/launch.ts, written by
 * scripts/bundle.ts), and run just as well when the cache is missing or does
 * not fit this Node.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CODE_CACHE_ENV } from '../../src/cli/launch';

const CLI_DIR = resolve(__dirname, '../../dist/src/cli');
const BINARIES = ['schema_backup', 'schema_restore'];

/** `--help` through `script` with the cache use reported on stderr. */
function help(script: string, args: string[] = []) {
  const run = spawnSync(process.execPath, [script, ...args, '--help'], { env: { ...process.env, [CODE_CACHE_ENV]: 'report' }, encoding: 'utf8' });
  const line = run.stderr.split('\n').find((l) => l.startsWith('code cache: '));
  return { status: run.status, stdout: run.stdout, cache: line?.slice('code cache: '.length) ?? null, stderr: run.stderr };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sbt-code-cache-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

test.each(BINARIES)('%s starts from the code cache the build wrote, and its main runs', (name) => {
  const run = help(join(CLI_DIR, `${name}.js`));
  expect(run.status).toBe(0);
  expect(run.cache).toBe('accepted');
  expect(run.stdout).toContain(`${name} [`);
});

test.each(['missing', 'rejected'])('with a cache %s the binary compiles its bundle and runs the same', async (kind) => {
  const bundle = join(CLI_DIR, 'schema_backup.bundle.js');
  const cache = join(dir, `${kind}.cache`);
  if (kind === 'rejected') await writeFile(cache, Buffer.from('not a V8 code cache'.repeat(100)));
  const script = join(dir, `launch-${kind}.js`);
  await writeFile(script, `require(${JSON.stringify(join(CLI_DIR, 'launch.js'))}).launch(${JSON.stringify(bundle)}, ${JSON.stringify(cache)});\n`);
  const run = help(script);
  expect(run.status).toBe(0);
  expect(run.cache).toBe(kind);
  expect(run.stdout).toBe(help(join(CLI_DIR, 'schema_backup.js')).stdout);
});

test.each(BINARIES)('the %s bundle holds no dynamic import(), which the launcher does not provide for', async (name) => {
  const source = await readFile(join(CLI_DIR, `${name}.bundle.js`), 'utf8');
  expect(source.match(/\bimport\(/g) ?? []).toEqual([]);
});
