/** The free-space check before a run: the pure estimate, and the measure of a real directory tree with an injected statfs. */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderMetrics } from '../../src/bookkeeping/metrics';
import { successRecord } from '../../src/bookkeeping/status';
import { StoreError } from '../../src/errors';
import { checkFreeSpace, measureStorage, planSpace, shortfallMessage, spaceNeeded, type BackupDirSpace, type LastBackupSizes } from '../../src/store/free-space';
import { sampleSummary } from '../helpers/summary';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

afterAll(cleanupTempDirs);

const last: LastBackupSizes = { hostFiles: 1000, userSnapshot: 5000, ephemeralFiles: 300 };
const dir = (role: BackupDirSpace['role'], device: number, freeBytes: number): BackupDirSpace => ({ role, path: `/b/${role}`, device, freeBytes });

describe('planSpace (pure)', () => {
  test('each directory needs what the last backup wrote there: host files twice (temporary copies, git objects), one full snapshot', () => {
    expect(spaceNeeded('csv2_backup_dir', last)).toBe(2000);
    expect(spaceNeeded('user_data_backup_dir', last)).toBe(5000);
    expect(spaceNeeded('-e DIR', last)).toBe(300);
    expect(spaceNeeded('user_data_backup_dir', { hostFiles: 0, userSnapshot: null, ephemeralFiles: null })).toBe(0);
  });

  test('enough room on separate filesystems: no shortfall', () => {
    expect(planSpace([dir('csv2_backup_dir', 1, 2000), dir('user_data_backup_dir', 2, 5000)], last)).toEqual([]);
  });

  test('a filesystem short of room is named with its directories, the bytes needed and free', () => {
    expect(planSpace([dir('csv2_backup_dir', 1, 1_000_000), dir('user_data_backup_dir', 2, 4999)], last)).toEqual([
      { dirs: [{ role: 'user_data_backup_dir', path: '/b/user_data_backup_dir' }], needBytes: 5000, freeBytes: 4999 },
    ]);
  });

  test('directories on one filesystem add up their needs', () => {
    const shared = [dir('csv2_backup_dir', 7, 7200), dir('user_data_backup_dir', 7, 7200), dir('-e DIR', 7, 7200)];
    expect(planSpace(shared, last)).toEqual([{ dirs: shared.map((d) => ({ role: d.role, path: d.path })), needBytes: 7300, freeBytes: 7200 }]);
    expect(planSpace(shared, { ...last, ephemeralFiles: 200 })).toEqual([]);
  });

  test('the message says what to do: retention when none is set', () => {
    const s = { dirs: [{ role: 'user_data_backup_dir' as const, path: '/u' }], needBytes: 5 << 20, freeBytes: 1 << 20 };
    const none = shortfallMessage(s, { file: '/etc/sb.conf', retention: null });
    expect(none).toMatch(/^not enough free space for this run on the filesystem of user_data_backup_dir \/u: about 5\.0 MiB \(5242880 bytes\) needed .*, 1\.0 MiB \(1048576 bytes\) free/);
    expect(none).toMatch(/set user_data_retention: \{ keep: N, days: D \} in \/etc\/sb\.conf/);
    expect(shortfallMessage(s, { file: '/etc/sb.conf', retention: { keep: 9, maxAgeDays: null } })).toMatch(/keep fewer user-data snapshots/);
  });
});

describe('measureStorage and checkFreeSpace (a real tree, statfs injected)', () => {
  const root = tempDir('sb-space-');
  const csv2 = join(root, 'csv2');
  const user = join(root, 'user');
  beforeAll(() => {
    mkdirSync(join(csv2, 'h1', '.schema_backup', 'tmp'), { recursive: true });
    writeFileSync(join(csv2, 'h1', 'a'), 'x'.repeat(100));
    writeFileSync(join(csv2, 'h1', '.schema_backup', 'manifest.json'), 'x'.repeat(20));
    writeFileSync(join(csv2, 'h1', '.schema_backup', 'tmp', 'partial'), 'x'.repeat(999)); // a run's leftovers: not a host file
    for (const [name, size] of [['20240101000000', 400], ['20240102000000', 700]] as const) {
      mkdirSync(join(user, name, '.schema_backup'), { recursive: true });
      writeFileSync(join(user, name, 't'), 'y'.repeat(size));
      writeFileSync(join(user, name, '.schema_backup', 'manifest.json'), 'y'.repeat(10));
    }
    mkdirSync(join(user, '20240103000000.partial'));
    symlinkSync('20240101000000', join(user, 'latest'));
  });
  const config = { csv2BackupDir: csv2, userDataBackupDir: user, file: '/etc/sb.conf', retention: null };

  test('sizes from the tree: the host files, the snapshot latest names; the snapshot count; a missing -e DIR measured on its parent', async () => {
    const r = await measureStorage({ config, hostName: 'h1', ephemeralDir: join(root, 'eph', 'new') }, async () => ({ bavail: 10, bsize: 4096 }));
    expect(r.last).toEqual({ hostFiles: 120, userSnapshot: 410, ephemeralFiles: 0 });
    expect(r.userSnapshots).toBe(2);
    expect(r.dirs.map((d) => [d.role, d.freeBytes])).toEqual([['csv2_backup_dir', 40960], ['user_data_backup_dir', 40960], ['-e DIR', 40960]]);
  });

  test('refuses with a StoreError when the filesystem cannot take the last backup again; passes when it can', async () => {
    const tiny = async () => ({ bavail: 1, bsize: 512 });
    await expect(checkFreeSpace({ config, hostName: 'h1', ephemeralDir: null }, tiny)).rejects.toThrow(StoreError);
    await expect(checkFreeSpace({ config, hostName: 'h1', ephemeralDir: null }, tiny)).rejects.toThrow(/about 650 bytes needed .*, 512 bytes free/);
    await expect(checkFreeSpace({ config, hostName: 'h1', ephemeralDir: null }, async () => ({ bavail: 1, bsize: 650 }))).resolves.toMatchObject({ userSnapshots: 2 });
  });
});

test('metrics: free bytes per backup filesystem and the snapshot count', () => {
  const rec = successRecord(sampleSummary(), { nextRun: null });
  rec.storage = { filesystems: [{ dir: 'csv2_backup_dir', path: '/c', freeBytes: 123 }, { dir: 'user_data_backup_dir', path: '/u', freeBytes: 456 }], userSnapshots: 3 };
  const text = renderMetrics(rec);
  expect(text).toContain('schema_backup_filesystem_free_bytes{dir="csv2_backup_dir",path="/c"} 123\n');
  expect(text).toContain('schema_backup_filesystem_free_bytes{dir="user_data_backup_dir",path="/u"} 456\n');
  expect(text).toContain('schema_backup_user_data_snapshots 3\n');
});
