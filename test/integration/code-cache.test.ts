/**
 * The built binaries start from V8's code cache (src/cli/launch.ts, written by
 * scripts/bundle.ts), use it only for the bundle it was made from, and run
 * just as well without it. The first backup or restore that completes writes
 * the cache again from what it compiled; nothing else does.
 */
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { CODE_CACHE_ENV } from '../../src/cli/launch';
import { createTestDatabase, credentialsYaml, testServer, testDatabaseName, quoteIdent, type TestDatabase } from '../helpers/db';
import { gitEnv } from '../helpers/git';

jest.setTimeout(60_000);

const DIST = resolve(__dirname, '../../dist');
const CLI_DIR = join(DIST, 'src/cli');
const LAUNCH = join(CLI_DIR, 'launch.js');
const BINARIES = ['schema_backup', 'schema_restore'];

/**
 * Runs `node script args` (no Node options, as an operator's unit runs it; `umask` if given) with the cache use
 * reported on stderr: the first report, and what happened at exit.
 */
function start(script: string, args: string[], opts: { umask?: string; env?: NodeJS.ProcessEnv } = {}) {
  const env = { ...gitEnv(), NODE_OPTIONS: '', [CODE_CACHE_ENV]: 'report', ...opts.env };
  const run =
    opts.umask === undefined
      ? spawnSync(process.execPath, [script, ...args], { env, encoding: 'utf8' })
      : spawnSync('/bin/sh', ['-c', `umask ${opts.umask} && exec "$0" "$@"`, process.execPath, script, ...args], { env, encoding: 'utf8' });
  const lines = run.stderr.split('\n').filter((l) => l.startsWith('code cache: ')).map((l) => l.slice('code cache: '.length));
  return { status: run.status, stdout: run.stdout, stderr: run.stderr, cache: lines[0] ?? null, atExit: lines[1] ?? null };
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

test.each(BINARIES)('%s starts from its code cache, and its main runs', (name) => {
  const run = start(join(CLI_DIR, `${name}.js`), ['--help']);
  expect(run.status).toBe(0);
  expect(run.cache).toBe('accepted');
  expect(run.stdout).toContain(`${name} [`);
});

test.each([
  ['missing', null],
  ['stale', () => Buffer.concat([createHash('sha256').update('another bundle').digest(), Buffer.alloc(4096, 7)])],
  // The right digest and origin byte (the build's), then bytes V8 refuses.
  ['rejected', (bundle: Buffer) => Buffer.concat([createHash('sha256').update(bundle).digest(), Buffer.from('B'), Buffer.from('not a V8 code cache'.repeat(100))])],
])('with a cache %s the binary compiles its bundle and runs the same', async (kind, makeCache) => {
  const bundle = join(CLI_DIR, 'schema_backup.bundle.js');
  const cache = join(dir, `${kind}.cache`);
  if (makeCache) await writeFile(cache, makeCache(await readFile(bundle)));
  const before = makeCache ? await readFile(cache) : null;
  const run = start(await launcherOf(kind, bundle, cache), ['--help']);
  expect(run.status).toBe(0);
  expect(run.cache).toBe(kind);
  expect(run.stdout).toBe(start(join(CLI_DIR, 'schema_backup.js'), ['--help']).stdout);
  // --help is no run worth caching: the cache stays as it was (or absent).
  expect(run.atExit).toBeNull();
  expect(before ? await readFile(cache) : existsSync(cache)).toEqual(before ?? false);
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

describe('the first backup or restore that completes writes the cache from its run', () => {
  const NEEDLE = `cache-needle-${randomBytes(6).toString('hex')}`;
  const USER = `sbt_cache_${randomBytes(3).toString('hex')}`;
  const BACKUP = join(CLI_DIR, 'schema_backup.bundle.js');
  const RESTORE = join(CLI_DIR, 'schema_restore.bundle.js');
  let db: TestDatabase;
  let conf: string;
  let credentials: string;
  const targets: string[] = [];

  /** A cache as the build writes it (from one --help run), for `bundle`, at `<name>.cache` of its own. */
  async function buildCache(name: string, bundle: string): Promise<string> {
    const cache = join(dir, `${name}.cache`);
    const writer = join(dir, `write-${name}.js`);
    await writeFile(writer, `process.argv = [process.argv[0], ${JSON.stringify(bundle)}, '--help'];\nrequire(${JSON.stringify(LAUNCH)}).launch(${JSON.stringify(bundle)}, { writeCache: true, cacheFile: ${JSON.stringify(cache)} });\n`);
    const run = spawnSync(process.execPath, [writer], { encoding: 'utf8' });
    expect(run.status).toBe(0);
    return cache;
  }

  const origin = async (cache: string) => String.fromCharCode((await readFile(cache))[32]);

  beforeAll(async () => {
    db = await createTestDatabase('code_cache');
    await db.conn.query(`CREATE TABLE g (id INT PRIMARY KEY, v TEXT); INSERT INTO g VALUES (1, 'global ${NEEDLE}');
      CREATE TABLE l (id INT PRIMARY KEY, v TEXT); INSERT INTO l VALUES (1, 'local ${NEEDLE}')`);
    const admin = await createConnection(testServer());
    await admin.query(`CREATE USER '${USER}'@'%' IDENTIFIED BY '${NEEDLE}'`);
    await admin.query(`GRANT ALL PRIVILEGES ON \`${db.name}\`.* TO '${USER}'@'%'`);
    await admin.end();
    await writeFile(join(dir, 'root.yml'), credentialsYaml(testServer(), db.name), { mode: 0o600 });
    credentials = join(dir, 'database.yml');
    await writeFile(credentials, credentialsYaml({ ...testServer(), user: USER, password: NEEDLE }, db.name), { mode: 0o600 });
    conf = join(dir, 'schema_backup.conf');
    await writeFile(conf, [`csv2_backup_dir: ${join(dir, 'csv2')}`, `user_data_backup_dir: ${join(dir, 'user')}`, `state_dir: ${join(dir, 'state')}`, `db_config: ${credentials}`, 'providers: []', 'consumers: []', 'global: [g]', 'local: [l]', ''].join('\n'));
  });

  afterAll(async () => {
    const admin = await createConnection(testServer());
    await admin.query(`DROP USER IF EXISTS '${USER}'@'%'`);
    for (const t of targets) await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(t)}`);
    await admin.end();
    await db?.drop();
  });

  const backupArgs = () => ['--online', '--config', conf, '--host-name', 'cachehost'];

  test('a backup writes it once, holding more of the code than --help compiled and nothing of the run', async () => {
    const cache = await buildCache('backup', BACKUP);
    const built = await readFile(cache);
    const script = await launcherOf('backup-run', BACKUP, cache);
    // Under a strict umask (a root cron job's): the cache stays readable by every user, as the build left it.
    const first = start(script, backupArgs(), { umask: '077' });
    expect({ status: first.status, cache: first.cache, atExit: first.atExit }).toEqual({ status: 0, cache: 'accepted', atExit: 'refreshed from this run' });
    expect(statSync(cache).mode & 0o777).toBe(0o644);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const refreshed = await readFile(cache);
    expect(String.fromCharCode(built[32])).toBe('B');
    expect(await origin(cache)).toBe('R');
    expect(refreshed.length).toBeGreaterThan(built.length);
    // Compiled code only: no password, no row of the run.
    expect(refreshed.includes(NEEDLE)).toBe(false);
    // Later runs start from it and leave it alone.
    await db.conn.query("UPDATE g SET v = 'second run'");
    const second = start(script, backupArgs());
    expect({ status: second.status, cache: second.cache, atExit: second.atExit }).toEqual({ status: 0, cache: 'accepted', atExit: null });
    expect((await readFile(cache)).equals(refreshed)).toBe(true);
  });

  test('a failed backup leaves the build\'s cache as it was', async () => {
    const cache = await buildCache('failed', BACKUP);
    const before = await readFile(cache);
    const missing = join(dir, 'missing-db.yml');
    await writeFile(missing, credentialsYaml({ ...testServer(), user: USER, password: NEEDLE }, testDatabaseName('code_cache_absent')), { mode: 0o600 });
    const run = start(await launcherOf('failed-run', BACKUP, cache), [...backupArgs(), '--db-config', missing]);
    expect(run.status).toBe(4);
    expect(run.atExit).toBeNull();
    expect((await readFile(cache)).equals(before)).toBe(true);
  });

  test('a cache that cannot be written changes nothing of the run, and leaves no file behind', async () => {
    await db.conn.query("UPDATE g SET v = 'unwritable cache'");
    // Its directory is missing: the first open fails, before V8 serialises anything.
    const missing = start(await launcherOf('missing-dir', BACKUP, join(dir, 'no-such-dir', 'backup.cache')), backupArgs());
    expect({ status: missing.status, cache: missing.cache }).toEqual({ status: 0, cache: 'missing' });
    expect(missing.atExit).toMatch(/^not refreshed \(ENOENT/);
    expect(missing.stdout).toMatch(/backup complete/);
    // The file cannot be replaced (a non-empty directory stands there): written, not renamed, and removed.
    const blocked = join(dir, 'blocked');
    await mkdir(join(blocked, 'backup.cache'), { recursive: true });
    await writeFile(join(blocked, 'backup.cache', 'x'), 'x');
    await db.conn.query("UPDATE g SET v = 'blocked cache'");
    const run = start(await launcherOf('blocked', BACKUP, join(blocked, 'backup.cache')), backupArgs());
    expect({ status: run.status, cache: run.cache }).toEqual({ status: 0, cache: 'missing' });
    expect(run.atExit).toMatch(/^not refreshed \(E(ISDIR|NOTEMPTY|EXIST)/);
    expect(readdirSync(blocked)).toEqual(['backup.cache']);
  });

  test('a stale cache (another bundle) is written again by the next completed backup, and fits after', async () => {
    const cache = join(dir, 'stale.cache');
    await writeFile(cache, Buffer.concat([createHash('sha256').update('another bundle').digest(), Buffer.from('R'), Buffer.alloc(4096, 7)]));
    const script = await launcherOf('stale-run', BACKUP, cache);
    await db.conn.query("UPDATE g SET v = 'stale cache'");
    expect(start(script, backupArgs())).toMatchObject({ status: 0, cache: 'stale', atExit: 'refreshed from this run' });
    await db.conn.query("UPDATE g SET v = 'fits again'");
    expect(start(script, backupArgs())).toMatchObject({ status: 0, cache: 'accepted', atExit: null });
  });

  test('a run with Node options of its own leaves the cache alone (its V8 flags may not be everyone\'s)', async () => {
    const cache = await buildCache('options', BACKUP);
    const before = await readFile(cache);
    await db.conn.query("UPDATE g SET v = 'node options'");
    const run = start(await launcherOf('options-run', BACKUP, cache), backupArgs(), { env: { NODE_OPTIONS: '--no-warnings' } });
    expect({ status: run.status, cache: run.cache, atExit: run.atExit }).toEqual({ status: 0, cache: 'accepted', atExit: null });
    expect((await readFile(cache)).equals(before)).toBe(true);
  });

  test('a restore that completes writes the restore binary\'s cache', async () => {
    const cache = await buildCache('restore', RESTORE);
    const target = testDatabaseName('code_cache_dst');
    targets.push(target);
    const run = start(await launcherOf('restore-run', RESTORE, cache), ['--online', '--config', conf, '--db-config', join(dir, 'root.yml'), '--host-name', 'cachehost', '--database', target]);
    expect({ status: run.status, cache: run.cache, atExit: run.atExit, stderr: run.status === 0 ? '' : run.stderr }).toEqual({ status: 0, cache: 'accepted', atExit: 'refreshed from this run', stderr: '' });
    expect(await origin(cache)).toBe('R');
  });
});
