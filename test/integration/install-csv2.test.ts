/**
 * The drop-in for CSV2's db_upgrade, end to end: `dist/scripts/install-csv2.js`
 * puts `<root>/utilities/schema_backup` into a fake CSV2 root, which is then run
 * exactly as db_upgrade runs it (`--ephemeral-directory DIR --target`, no
 * --config, another working directory, systemctl found on PATH), against the
 * shared MariaDB. db_upgrade then reads `<root>/schema/schema_backup/<FQDN>/TABLE`
 * and `user_data_backup_dir/latest/TABLE`: those files are checked here.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fullyQualifiedHostName } from '../../src/config/host-name';
import { EXIT } from '../../src/errors';
import { isOwnWrapper } from '../../src/install/csv2-wrapper';
import { runAllowingFailure, type RunResult } from '../../src/proc/run';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { createFakeServices, type FakeServices } from '../helpers/fake-services';
import { gitEnv } from '../helpers/git';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

const INSTALLER = resolve(__dirname, '../../dist/scripts/install-csv2.js');
const CLI = resolve(__dirname, '../../dist/src/cli/schema_backup.js');

let db: TestDatabase;
const fakes: FakeServices[] = [];

beforeAll(async () => {
  db = await createTestDatabase('install_csv2');
  await db.conn.query(
    "CREATE TABLE csv2_configuration (id INT PRIMARY KEY, value VARCHAR(40)); INSERT INTO csv2_configuration VALUES (1, 'global-row');" +
      "CREATE TABLE csv2_user (id INT PRIMARY KEY, username VARCHAR(40)); INSERT INTO csv2_user VALUES (1, 'local-row');" +
      "CREATE TABLE condor_jobs (id INT PRIMARY KEY, state VARCHAR(40)); INSERT INTO condor_jobs VALUES (1, 'ephemeral-row');" +
      "CREATE TABLE django_session (id INT PRIMARY KEY); INSERT INTO django_session VALUES (1);",
  );
});

afterEach(async () => {
  for (const f of fakes.splice(0)) await f.cleanup();
});

afterAll(async () => {
  await db?.drop();
  cleanupTempDirs();
});

interface Csv2Root {
  work: string;
  root: string;
  wrapper: string;
  userDir: string;
  conf: string;
}

/** `<work>/cloudscheduler/etc/schema_backup.conf` as a CSV2 site would have it: no csv2_backup_dir, so the default applies. */
function fakeCsv2Root(extra = ''): Csv2Root {
  const work = tempDir('sb-csv2-root-');
  const root = join(work, 'cloudscheduler');
  const userDir = join(work, 'user_data');
  mkdirSync(join(root, 'etc'), { recursive: true });
  const conf = join(root, 'etc', 'schema_backup.conf');
  writeFileSync(
    conf,
    [
      `user_data_backup_dir: ${JSON.stringify(userDir)}`,
      `state_dir: ${JSON.stringify(join(work, 'state'))}`,
      `db_config: ${JSON.stringify(db.credentialsFile)}`,
      'providers: [mariadb]',
      'consumers: [csv2-main]',
      'pause_interval: 0',
      'global: [csv2_configuration]',
      'local: [csv2_user]',
      'ephemeral: [condor_jobs]',
      'ignore: [django_session]',
      extra,
      '',
    ].join('\n'),
  );
  return { work, root, wrapper: join(root, 'utilities', 'schema_backup'), userDir, conf };
}

/** The installer as an admin runs it, from a directory of its own. */
function install(root: string, ...more: string[]): Promise<RunResult> {
  return runAllowingFailure(process.execPath, [INSTALLER, '--root', root, ...more], { cwd: tempDir('sb-install-cwd-'), timeoutMs: 30_000 });
}

describe('db_upgrade runs <root>/utilities/schema_backup --ephemeral-directory DIR --target', () => {
  test('the installed wrapper backs up into the root, as db_upgrade reads it', async () => {
    const r = fakeCsv2Root();
    const fake = createFakeServices({ 'csv2-main': 'exec sleep 1000', mariadb: 'exec sleep 1000' });
    fakes.push(fake);
    await fake.startAll();
    fake.clearCalls();

    const installed = await install(r.root);
    expect(installed).toEqual({ code: 0, stdout: `install-csv2: ${r.wrapper}: installed\n`, stderr: '' });
    expect(statSync(r.wrapper).mode & 0o777).toBe(0o755);
    const text = readFileSync(r.wrapper, 'utf8');
    expect(text).toContain(`'${process.execPath}'`);
    expect(text).toContain(`'${CLI}'`);

    // db_upgrade's environment: systemctl is whatever PATH finds (here the fake), no override of
    // the binary, and a $SCHEMA_BACKUP_CONF meant for another setup that the wrapper must not follow.
    const env: NodeJS.ProcessEnv = { ...gitEnv(), ...fake.env, SCHEMA_BACKUP_CONF: join(r.work, 'not-this.conf') };
    delete env.SCHEMA_BACKUP_SYSTEMCTL;
    delete env.SCHEMA_BACKUP_ROOT;
    const cwd = tempDir('sb-db-upgrade-cwd-');
    const ephemeralDir = join(r.work, 'ephemeral');
    const result = await runAllowingFailure(r.wrapper, ['--ephemeral-directory', ephemeralDir, '--target'], { env, cwd, timeoutMs: 60_000 });
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: EXIT.ok, stderr: expect.any(String) });

    // <root>/schema/schema_backup/<FQDN>/TABLE: structures, and the rows of global tables.
    const host = await fullyQualifiedHostName();
    const hostDir = join(r.root, 'schema', 'schema_backup', host);
    expect(readdirSync(join(r.root, 'schema', 'schema_backup')).sort()).toEqual(['.git', '.gitattributes', host]);
    expect(readdirSync(hostDir).filter((f) => !f.startsWith('.')).sort()).toEqual(['condor_jobs', 'csv2_configuration', 'csv2_user']);
    expect(readFileSync(join(hostDir, 'csv2_configuration'), 'utf8')).toMatch(/CREATE TABLE `csv2_configuration`[\s\S]*INSERT INTO `csv2_configuration`[\s\S]*'global-row'/);
    for (const structureOnly of ['csv2_user', 'condor_jobs']) {
      const file = readFileSync(join(hostDir, structureOnly), 'utf8');
      expect(file).toContain(`CREATE TABLE \`${structureOnly}\``);
      expect(file).not.toContain('INSERT INTO');
    }
    // -e DIR: the ephemeral tables with their rows.
    expect(readdirSync(ephemeralDir).filter((f) => !f.startsWith('.'))).toEqual(['condor_jobs']);
    expect(readFileSync(join(ephemeralDir, 'condor_jobs'), 'utf8')).toMatch(/INSERT INTO `condor_jobs`[\s\S]*'ephemeral-row'/);
    // user_data_backup_dir/latest/TABLE: the local tables with their rows.
    expect(readdirSync(join(r.userDir, 'latest')).filter((f) => !f.startsWith('.'))).toEqual(['csv2_user']);
    expect(readFileSync(join(r.userDir, 'latest', 'csv2_user'), 'utf8')).toMatch(/INSERT INTO `csv2_user`[\s\S]*'local-row'/);

    // --target: consumers stopped and left stopped (db_upgrade starts them), the provider restarted.
    expect((await fake.calls()).map((c) => `${c.verb} ${c.unit}`)).toEqual(['is-active csv2-main', 'stop csv2-main', 'restart mariadb']);
    expect(await fake.isRunning('csv2-main')).toBe(false);
    // Nothing lands in db_upgrade's working directory.
    expect(readdirSync(cwd)).toEqual([]);

    // Subcommands pass through too: `status` reads the root's configuration (its state_dir).
    const status = await runAllowingFailure(r.wrapper, ['status', '--json'], { env, cwd, timeoutMs: 30_000 });
    expect(status.code).toBe(EXIT.ok);
    expect(JSON.parse(status.stdout)).toMatchObject({
      healthy: true,
      status: { result: 'success', userSnapshot: expect.stringMatching(new RegExp(`^${r.userDir}/\\d{14}$`)) },
    });
  });
});

describe('npm run install-csv2 -- --root DIR', () => {
  test('is idempotent: a second run leaves the wrapper as it is', async () => {
    const r = fakeCsv2Root();
    expect((await install(r.root)).code).toBe(0);
    const before = statSync(r.wrapper);
    const again = await install(r.root);
    expect(again).toEqual({ code: 0, stdout: `install-csv2: ${r.wrapper}: already up to date\n`, stderr: '' });
    const after = statSync(r.wrapper);
    expect({ ino: after.ino, mtimeMs: after.mtimeMs }).toEqual({ ino: before.ino, mtimeMs: before.mtimeMs });
  });

  test("updates an older wrapper of its own (node moved), without --force", async () => {
    const r = fakeCsv2Root();
    expect((await install(r.root)).code).toBe(0);
    const current = readFileSync(r.wrapper, 'utf8');
    writeFileSync(r.wrapper, current.replaceAll(process.execPath, '/old/bin/node'));
    const result = await install(r.root);
    expect(result).toMatchObject({ code: 0, stdout: `install-csv2: ${r.wrapper}: updated\n` });
    expect(readFileSync(r.wrapper, 'utf8')).toBe(current);
  });

  test("refuses to overwrite CSV2's own schema_backup (exit 2, file untouched) unless --force", async () => {
    const r = fakeCsv2Root();
    mkdirSync(join(r.root, 'utilities'));
    const original = '#!/usr/bin/env python3\nprint("CSV2 schema_backup")\n';
    writeFileSync(r.wrapper, original, { mode: 0o755 });

    const refused = await install(r.root);
    expect(refused.code).toBe(EXIT.usage);
    expect(refused.stderr).toBe(`install-csv2: ${r.wrapper} exists and is not a schema_backup wrapper (CSV2's own schema_backup?): pass --force to replace it\n`);
    expect(readFileSync(r.wrapper, 'utf8')).toBe(original);

    const forced = await install(r.root, '--force');
    expect(forced).toMatchObject({ code: 0, stdout: `install-csv2: ${r.wrapper}: replaced (--force)\n` });
    expect(isOwnWrapper(readFileSync(r.wrapper, 'utf8'))).toBe(true);
  });

  test('replaces a symbolic link only with --force, and never its target', async () => {
    const r = fakeCsv2Root();
    mkdirSync(join(r.root, 'utilities'));
    const target = join(r.work, 'real_schema_backup');
    writeFileSync(target, 'original\n');
    symlinkSync(target, r.wrapper);
    expect((await install(r.root)).code).toBe(EXIT.usage);
    expect((await install(r.root, '--force')).code).toBe(0);
    expect(statSync(r.wrapper).isFile()).toBe(true);
    expect(readFileSync(target, 'utf8')).toBe('original\n');
  });

  test('refuses a root that does not exist, and a directory in the way even with --force', async () => {
    const work = tempDir('sb-csv2-missing-');
    const missing = await install(join(work, 'nope'));
    expect(missing.code).toBe(EXIT.usage);
    expect(missing.stderr).toMatch(/--root .*\/nope is not an existing directory/);

    const r = fakeCsv2Root();
    mkdirSync(join(r.wrapper), { recursive: true });
    const blocked = await install(r.root, '--force');
    expect(blocked.code).toBe(EXIT.usage);
    expect(blocked.stderr).toMatch(/is a directory/);
  });

  test("warns about a root configuration db_upgrade could not use, and still installs", async () => {
    const r = fakeCsv2Root(`csv2_backup_dir: /elsewhere\nuser_data_compress: gzip`);
    const result = await install(r.root);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`warning: ${r.conf}: csv2_backup_dir is /elsewhere, but db_upgrade reads the tables from ${join(r.root, 'schema', 'schema_backup')}`);
    expect(result.stderr).toContain('user_data_compress is gzip');
    expect(existsSync(r.wrapper)).toBe(true);

    const bare = tempDir('sb-csv2-bare-');
    const noConf = await install(bare);
    expect(noConf.code).toBe(0);
    expect(noConf.stderr).toContain(`warning: ${join(bare, 'etc', 'schema_backup.conf')}: configuration file does not exist`);
  });
});
