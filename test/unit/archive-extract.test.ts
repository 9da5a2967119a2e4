/**
 * schema_restore --archive: every entry lands inside the private directory or
 * the archive is refused whole (crafted archives: `..`, absolute names,
 * links, devices, duplicates, not gzip).
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack as tarPack, type Header } from 'tar-stream';
import { safeRelative } from '../../src/api/archive';
import { ARCHIVE_INFO } from '../../src/store/archive-layout';
import { entryNameProblem, extractArchive } from '../../src/restore/archive-extract';
import { VerifyError } from '../../src/errors';

let tmp: string;
let extractRoot: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'sb-archive-'));
  extractRoot = join(tmp, 'x');
  require('node:fs').mkdirSync(extractRoot);
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

const INFO = JSON.stringify({ format: 1, hostName: 'h', snapshot: '20260101000000', createdAt: 'x' });

async function archive(entries: { header: Partial<Header> & { name: string }; body?: string }[]): Promise<string> {
  const p = tarPack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => void chunks.push(c as Buffer));
  const ended = new Promise<void>((r) => p.on('end', () => r()));
  for (const e of entries) p.entry(e.header as Header, e.body ?? '');
  p.finalize();
  await ended;
  const file = join(tmp, `a${Math.random()}.tar.gz`);
  writeFileSync(file, gzipSync(Buffer.concat(chunks)));
  return file;
}

const file = (name: string, body = 'x') => ({ header: { name, type: 'file' as const }, body });

test('entry names: only relative names under the two roots', () => {
  expect(entryNameProblem(ARCHIVE_INFO)).toBeNull();
  expect(entryNameProblem('csv2_backup_dir/h/t')).toBeNull();
  expect(entryNameProblem('user_data_backup_dir/20260101000000/.schema_backup/manifest.json')).toBeNull();
  for (const bad of ['/etc/passwd', '../x', 'csv2_backup_dir/../../x', 'csv2_backup_dir/h/./t', 'csv2_backup_dir//t', 'other/x', 'a\\b', 'csv2_backup_dir/h/\0', '']) {
    expect({ bad, problem: entryNameProblem(bad) }).toEqual({ bad, problem: expect.any(String) });
  }
  expect([safeRelative('t'), safeRelative('.schema_backup/views.sql'), safeRelative('../t'), safeRelative('/t'), safeRelative('a/../../t'), safeRelative('')]).toEqual([
    true,
    true,
    false,
    false,
    false,
    false,
  ]);
});

test('a good archive unpacks into a private directory, files 0600', async () => {
  const a = await archive([file(ARCHIVE_INFO, INFO), file('csv2_backup_dir/h/t', 'host'), file('user_data_backup_dir/20260101000000/t', 'user')]);
  const x = await extractArchive(a, { tmpRoot: extractRoot });
  expect(x.info).toMatchObject({ hostName: 'h', snapshot: '20260101000000' });
  expect(statSync(x.dir).mode & 0o777).toBe(0o700);
  expect(statSync(join(x.csv2BackupDir, 'h', 't')).mode & 0o777).toBe(0o600);
  expect(existsSync(join(x.userDataBackupDir as string, '20260101000000', 't'))).toBe(true);
  await x.remove();
  expect(readdirSync(extractRoot)).toEqual([]);
});

test.each([
  ['a `..` entry', [file('csv2_backup_dir/../../escaped', 'evil')]],
  ['an absolute entry', [file('/tmp/escaped-abs', 'evil')]],
  ['a symlink', [{ header: { name: 'csv2_backup_dir/h/link', type: 'symlink' as const, linkname: '/etc' } }]],
  ['a hard link', [{ header: { name: 'csv2_backup_dir/h/link', type: 'link' as const, linkname: '../../etc/passwd' } }]],
  ['a device', [{ header: { name: 'csv2_backup_dir/h/dev', type: 'character-device' as const } }]],
  ['one name twice', [file('csv2_backup_dir/h/t'), file('csv2_backup_dir/h/t')]],
  ['an entry outside the two roots', [file('elsewhere/t')]],
])('%s refuses the archive, leaving nothing behind', async (_label, entries) => {
  const a = await archive([file(ARCHIVE_INFO, INFO), ...entries]);
  await expect(extractArchive(a, { tmpRoot: extractRoot })).rejects.toThrow(VerifyError);
  expect(readdirSync(extractRoot)).toEqual([]);
  expect(existsSync(join(tmp, 'escaped'))).toBe(false);
});

test('not gzip, or no archive description: refused', async () => {
  const notGzip = join(tmp, 'plain');
  writeFileSync(notGzip, 'hello');
  await expect(extractArchive(notGzip, { tmpRoot: extractRoot })).rejects.toThrow(/not a readable tar.gz/);
  const noInfo = await archive([file('csv2_backup_dir/h/t')]);
  await expect(extractArchive(noInfo, { tmpRoot: extractRoot })).rejects.toThrow(/no schema_backup-archive.json/);
  const badHost = await archive([file(ARCHIVE_INFO, JSON.stringify({ format: 1, hostName: '..', snapshot: null }))]);
  await expect(extractArchive(badHost, { tmpRoot: extractRoot })).rejects.toThrow();
  expect(readdirSync(extractRoot)).toEqual([]);
});
