/**
 * Paths: user_data_backup_dir given as a symbolic link into the git work tree
 * of csv2_backup_dir is refused on the first run too (real paths compared, the
 * repository not created yet), so user data is never committed; and a
 * csv2_backup_dir that resolves to `/`, a system directory or the user's home
 * is refused (exit 3, naming it) instead of getting `git init`.
 */
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT } from '../../src/errors';
import { freePort } from '../../scripts/lib/free-port';
import { credentialsYaml, testServer } from '../helpers/db';
import { createSite, listFiles, STACK_TRACE, type Site } from '../helpers/faults';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

jest.setTimeout(120_000);

let site: Site;

beforeAll(async () => {
  site = await createSite({ label: 'paths', global: ['g'], local: ['l'], consumer: false });
  await site.db.conn.query('CREATE TABLE g (id INT PRIMARY KEY); CREATE TABLE l (id INT PRIMARY KEY, v TEXT); INSERT INTO l VALUES (1, "user-secret")');
});

afterAll(async () => {
  await site.cleanup();
  cleanupTempDirs();
});

test.each([
  ['a symbolic link into the future work tree', (csv2: string, link: string) => {
    mkdirSync(join(csv2, 'private'), { recursive: true });
    symlinkSync(join(csv2, 'private'), link);
  }],
  ['a dangling symbolic link into the future work tree', (csv2: string, link: string) => symlinkSync(join(csv2, 'not-yet', 'private'), link)],
  ['a path through a symbolic link to an ancestor of the work tree', (csv2: string, link: string) => {
    mkdirSync(csv2, { recursive: true });
    symlinkSync(csv2, link);
    return join(link, 'user');
  }],
])('user_data_backup_dir is %s, first run: exit 3, no repository, nothing committed', async (_name, make) => {
  const root = tempDir('sbf-paths-');
  const csv2 = join(root, 'csv2');
  const link = join(root, 'user-link');
  const userDir = make(csv2, link) ?? link;
  site.writeConfig({ csv2_backup_dir: csv2, user_data_backup_dir: userDir });
  const r = await site.run();
  const context = `exit ${r.code}\n${r.stderr}`;
  expect({ context, code: r.code }).toEqual({ context, code: EXIT.config });
  expect(r.stderr).toMatch(/user_data_backup_dir .* lies inside csv2_backup_dir/);
  expect(r.stderr).not.toMatch(STACK_TRACE);
  expect(existsSync(join(csv2, '.git'))).toBe(false);
  expect(listFiles(root).filter((f) => /\.git|faulthost|\d{14}/.test(f))).toEqual([]);
  expect(existsSync(join(csv2, 'faulthost'))).toBe(false);
});

describe('csv2_backup_dir that is a system directory', () => {
  let unreachable: string;
  beforeAll(async () => {
    // A server nobody listens on: were the directory not refused first, the run would stop at the database (exit 4), never reach git init.
    unreachable = join(tempDir('sbf-sysdir-cred-'), 'cloudscheduler.yaml');
    writeFileSync(unreachable, credentialsYaml({ ...testServer(), port: await freePort() }, site.db.name), { mode: 0o600 });
  });

  // The configuration resolves the path it is given (`/usr/` is `/usr`); the message names that, and where a link leads.
  test.each([
    ['/', () => ['/', '/']],
    ['/etc', () => ['/etc', '/etc']],
    ['/usr/', () => ['/usr/', '/usr']],
    ['a symbolic link to /var', () => {
      const link = join(tempDir('sbf-sysdir-'), 'backups');
      symlinkSync('/var', link);
      return [link, `${link} (/var)`];
    }],
    ['/root/../', () => ['/root/../', '/']],
  ])('%s: exit 3 naming it, nothing attempted', async (_name, dir) => {
    const [path, named] = dir() as [string, string];
    site.writeConfig({ csv2_backup_dir: path, user_data_backup_dir: join(tempDir('sbf-sysdir-user-'), 'u') });
    const r = await site.run(['--db-config', unreachable]);
    const context = `exit ${r.code}\n${r.stderr}`;
    expect({ context, code: r.code }).toEqual({ context, code: EXIT.config });
    expect(r.stderr).toContain(`csv2_backup_dir: ${named} is a system directory`);
    expect(r.stderr).toMatch(/is a system directory/);
    expect(r.stderr).not.toMatch(STACK_TRACE);
  });

  test('the home directory of the user running it: exit 3 (before the fix: git init there)', async () => {
    const home = tempDir('sbf-home-');
    site.writeConfig({ csv2_backup_dir: home, user_data_backup_dir: join(tempDir('sbf-home-user-'), 'u') });
    const r = await site.run([], { env: { HOME: home } });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: EXIT.config, stderr: expect.stringContaining(`csv2_backup_dir: ${home} is a system directory (or your home)`) });
    expect(existsSync(join(home, '.git'))).toBe(false);
  });
});
