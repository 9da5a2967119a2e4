/**
 * Growth without user_data_retention: each changed run adds a full user-data
 * snapshot until the disk is full. On a tmpfs of 2 MiB holding one snapshot
 * of ~1.2 MiB, the next changed run cannot fit: it is refused before any
 * service is touched (exit 5, naming the filesystem, the bytes needed and
 * free, and user_data_retention), nothing changes, and status.json and the
 * metrics file show the free bytes and the snapshot count.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StatusRecord } from '../../src/bookkeeping/status';
import { EXIT } from '../../src/errors';
import { createSite, incompleteSnapshots, mountTmpfs, remount, STACK_TRACE, unmount, type Site } from '../helpers/faults';
import { cleanupTempDirs } from '../helpers/tmp';

jest.setTimeout(120_000);

let site: Site;
let metricsFile: string;
beforeAll(async () => {
  site = await createSite({ label: 'diskspace', global: ['g'], local: ['l'] });
  metricsFile = join(site.root, 'metrics', 'schema_backup.prom');
  site.writeConfig({ metrics_file: metricsFile });
  await mountTmpfs(site.userDir, '2m');
  await remount(site.userDir, 'mode=0700');
  await site.db.conn.query(
    "CREATE TABLE g (id INT PRIMARY KEY, v TEXT); INSERT INTO g VALUES (1, 'one');" +
      'CREATE TABLE l (id INT PRIMARY KEY, v TEXT); INSERT INTO l SELECT seq, REPEAT(MD5(seq), 32) FROM seq_1_to_1200',
  );
});
afterAll(async () => {
  await unmount(site.userDir);
  await site.cleanup();
  cleanupTempDirs();
});

test('a changed run that cannot fit is refused before any service is touched; fine again once there is room', async () => {
  const first = await site.run();
  expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: expect.any(String) });

  await site.db.conn.query("UPDATE l SET v = CONCAT(v, '+') WHERE id = 1");
  const before = await site.state();
  site.services?.clearCalls();
  const r = await site.run();
  const context = `exit ${r.code}\n${r.stderr}`;
  expect({ context, code: r.code }).toEqual({ context, code: EXIT.store });
  expect(r.stderr).toMatch(new RegExp(`not enough free space for this run on the filesystem of user_data_backup_dir ${site.userDir}: about .*\\(\\d+ bytes\\) needed .*\\(\\d+ bytes\\) free`));
  expect(r.stderr).toMatch(/set user_data_retention: \{ keep: N, days: D \}/);
  expect(r.stderr).not.toMatch(STACK_TRACE);
  expect(r.stderr).not.toMatch(/no space left on device/i);
  // Refused up front: no consumer stopped, nothing written.
  expect((await site.services?.calls())?.filter((c) => c.verb !== 'is-active')).toEqual([]);
  expect(await site.state()).toEqual(before);
  expect(incompleteSnapshots(site.userDir)).toEqual([]);
  expect(await site.consumerRunning()).toBe(true);

  // The figures an operator watches: free bytes per backup filesystem, the snapshot count.
  const status = JSON.parse(readFileSync(join(site.stateDir, 'status.json'), 'utf8')) as StatusRecord;
  expect(status).toMatchObject({ result: 'failure', exitCode: EXIT.store });
  const userFs = status.storage?.filesystems.find((f) => f.dir === 'user_data_backup_dir');
  expect(userFs?.path).toBe(site.userDir);
  expect(userFs?.freeBytes).toBeLessThan(1 << 20);
  expect(status.storage?.userSnapshots).toBe(1);
  const metrics = readFileSync(metricsFile, 'utf8');
  expect(metrics).toMatch(new RegExp(`^schema_backup_filesystem_free_bytes\\{dir="user_data_backup_dir",path="${site.userDir}"\\} ${userFs?.freeBytes}$`, 'm'));
  expect(metrics).toMatch(/^schema_backup_filesystem_free_bytes\{dir="csv2_backup_dir",path=".*"\} \d+$/m);
  expect(metrics).toMatch(/^schema_backup_user_data_snapshots 1$/m);

  await remount(site.userDir, 'size=8m');
  const again = await site.run();
  expect({ code: again.code, stderr: again.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
  expect((await site.state()).latest).not.toBe(before.latest);
  expect(readFileSync(metricsFile, 'utf8')).toMatch(/^schema_backup_user_data_snapshots 2$/m);
});
