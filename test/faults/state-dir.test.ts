/**
 * state_dir and the messages of refused runs: a read-only state_dir is a
 * storage error naming the directory (not an internal error with a bare
 * EACCES/EROFS), and no error message starts with `-:` (a message without its file).
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT } from '../../src/errors';
import { bindReadOnly, createSite, STACK_TRACE, unmount, type Site } from '../helpers/faults';
import { cleanupTempDirs } from '../helpers/tmp';

jest.setTimeout(120_000);

let site: Site;
beforeAll(async () => {
  site = await createSite({ label: 'statedir', global: ['g'], local: ['l'] });
  await site.db.conn.query("CREATE TABLE g (id INT PRIMARY KEY, v TEXT); CREATE TABLE l (id INT PRIMARY KEY, v TEXT); INSERT INTO g VALUES (1, 'one'); INSERT INTO l VALUES (1, 'private')");
  const first = await site.run();
  expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
});
afterAll(async () => {
  await site.cleanup();
  cleanupTempDirs();
});

test('a read-only state_dir: exit 5 naming state_dir and what to do, nothing changed, consumer running', async () => {
  await site.db.conn.query("UPDATE g SET v = 'changed'");
  const before = await site.state();
  const stateFiles = readdirSync(site.stateDir).sort();
  await bindReadOnly(site.stateDir);
  try {
    site.services?.clearCalls();
    const r = await site.run();
    const context = `exit ${r.code}\n${r.stderr}`;
    expect({ context, code: r.code }).toEqual({ context, code: EXIT.store });
    expect(r.stderr).toContain(site.stateDir);
    expect(r.stderr).toMatch(/state_dir/);
    expect(r.stderr).toMatch(/read-only file system/i);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(await site.state()).toEqual(before);
    expect(await site.consumerRunning()).toBe(true);
    // Refused before any service was touched.
    expect((await site.services?.calls())?.filter((c) => c.verb !== 'is-active')).toEqual([]);
  } finally {
    await unmount(site.stateDir);
  }
  expect(readdirSync(site.stateDir).sort()).toEqual(stateFiles);
  const again = await site.run();
  expect(again.code).toBe(0);
});

test('a state_dir that cannot be created (its parent is read-only): exit 5 naming it', async () => {
  const parent = join(site.root, 'ro-parent');
  mkdirSync(parent);
  await bindReadOnly(parent);
  try {
    site.writeConfig({ state_dir: join(parent, 'state') });
    const r = await site.run();
    const context = `exit ${r.code}\n${r.stderr}`;
    expect({ context, code: r.code }).toEqual({ context, code: EXIT.store });
    expect(r.stderr).toContain(join(parent, 'state'));
    expect(r.stderr).not.toMatch(STACK_TRACE);
  } finally {
    site.writeConfig();
    await unmount(parent);
  }
});

test('user data inside the git work tree: the message names the configuration file, none starts with "-:"', async () => {
  site.writeConfig({ user_data_backup_dir: join(site.csv2Dir, 'userdata') });
  try {
    const r = await site.run();
    expect(r.code).toBe(EXIT.config);
    expect(r.stderr).toContain(`${site.configFile}: user_data_backup_dir`);
    expect(r.stderr).not.toMatch(/(^|[\s="])-: /m);
  } finally {
    site.writeConfig();
  }
});

test('an unusable --host-name: the message names where the name came from, none starts with "-:"', async () => {
  const r = await site.run(['--host-name', '..']);
  expect(r.code).toBe(EXIT.config);
  expect(r.stderr).toMatch(/--host-name: host name \\?"\.\.\\?" cannot be used/);
  expect(r.stderr).not.toMatch(/(^|[\s="])-: /m);
});
