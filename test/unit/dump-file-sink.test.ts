/**
 * FileSink's hashes against sha256 of the bytes actually on disk and of the text
 * through the end of the rows, across flush boundaries, with and without gzip.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { FileSink } from '../../src/store/file-sink';
import { pageCacheModuleLoaded } from '../../src/store/page-cache';
import { TableDir } from '../../src/store/table-dir';
import { UserSnapshotWriter } from '../../src/store/user-snapshot';
import { captureLog } from '../helpers/capture-log';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sbt-sink-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes head, rows (pushed in pieces, flushed whenever the sink asks) and tail; returns what was meant to be written. */
async function write(sink: FileSink, rowsBytes: number, piece: number) {
  const head = Buffer.from('-- head\n-- Rows\n');
  const rows = Buffer.alloc(rowsBytes);
  for (let i = 0; i < rowsBytes; i++) rows[i] = (i * 7919 + (i >> 10)) & 0xff;
  const tail = Buffer.from('\n-- tail\n');
  sink.push(head);
  sink.startRows();
  for (let at = 0; at < rows.length; at += piece) {
    if (sink.push(rows.subarray(at, at + piece))) await sink.flush();
  }
  sink.endRows();
  sink.push(tail);
  return { whole: Buffer.concat([head, rows, tail]), rows, content: Buffer.concat([head, rows]) };
}

test.each([
  ['small (one write)', 1000, 100, false],
  ['empty rows section', 0, 1, false],
  ['many flushes', 9 << 20, 300_001, false],
  ['more chunks in one flush than one writev call takes (IOV_MAX 1024)', 300_000, 97, false],
  ['a piece larger than a flush', 5 << 20, 5 << 20, false],
  ['gzip, many flushes', 3 << 20, 65_537, true],
  ['gzip, small', 5000, 777, true],
])('%s: sha256 of the file and of its text through the rows are exact', async (_name, rowsBytes, piece, gzip) => {
  const path = join(dir, `f-${rowsBytes}-${piece}-${gzip}`);
  const sink = await FileSink.open(path, { gzip });
  const { whole, content } = await write(sink, rowsBytes, piece);
  const result = await sink.finish();
  const onDisk = await readFile(path);
  expect(result.bytes).toBe(onDisk.length);
  expect(result.sha256).toBe(sha(onDisk));
  expect(result.contentSha256).toBe(sha(content));
  expect((gzip ? gunzipSync(onDisk) : onDisk).equals(whole)).toBe(true);
  expect((await stat(path)).mode & 0o777).toBe(0o600);
});

test('a hash-only sink (no path) gives the same rows hash, and several sinks at once do not mix', async () => {
  const sinks = await Promise.all([FileSink.open(null), FileSink.open(null), FileSink.open(join(dir, 'parallel'))]);
  const results = await Promise.all(
    sinks.map(async (s, i) => {
      const { content } = await write(s, (3 + i) << 20, 100_003);
      return { content, result: await s.finish() };
    }),
  );
  for (const { content, result } of results) expect(result.contentSha256).toBe(sha(content));
  expect(new Set(results.map((r) => r.result.contentSha256)).size).toBe(3);
});

test('an aborted sink removes its file', async () => {
  const path = join(dir, 'aborted');
  const sink = await FileSink.open(path);
  await write(sink, 2 << 20, 1 << 16);
  await sink.abort();
  await expect(stat(path)).rejects.toThrow();
});

/** Bytes of `path` in the page cache, as fincore (util-linux) counts them. */
async function residentBytes(path: string): Promise<number> {
  const { stdout } = await promisify(execFile)('fincore', ['--bytes', '--noheadings', '--output', 'RES', path]);
  return Number(stdout.trim());
}

/** tmpfs keeps every page (DONTNEED does nothing there): such a temporary directory is left for the project's own. */
const TMPFS_MAGIC = 0x01021994;

describe('the page cache', () => {
  const FILE_BYTES = 160 << 20;
  let diskDir: string;
  beforeAll(async () => {
    const base = (await statfs(tmpdir())).type === TMPFS_MAGIC ? process.cwd() : tmpdir();
    diskDir = await mkdtemp(join(base, 'sbt-cache-'));
  });
  afterAll(async () => {
    await rm(diskDir, { recursive: true, force: true });
  });

  test.each([
    ['dropCache (a user-data snapshot): what reaches the disk leaves the cache', true],
    ['without dropCache (files git hashes next): the file stays cached', false],
  ])('%s', async (_name, dropCache) => {
    expect({ nativeModuleLoaded: pageCacheModuleLoaded() }).toEqual({ nativeModuleLoaded: true });
    const path = join(diskDir, `large-${dropCache}`);
    const sink = await FileSink.open(path, { dropCache });
    const { whole } = await write(sink, FILE_BYTES, 1 << 20);
    const result = await sink.finish();
    // Read before the file is read back below. Synced every 32 MiB as it is written: the first sync's range at least
    // (whole pages, the first 32 MiB) has left the cache once finish() resolves, whatever the disk's speed.
    const resident = await residentBytes(path);
    if (dropCache) expect(resident).toBeLessThanOrEqual(FILE_BYTES - (32 << 20) + 4096);
    else expect(resident).toBeGreaterThan(FILE_BYTES - (32 << 20) + 4096);
    const onDisk = await readFile(path);
    expect(onDisk.equals(whole)).toBe(true);
    expect(result.sha256).toBe(sha(onDisk));
  }, 60_000);

  test.each([
    ['a user-data snapshot: its table files leave the cache', true],
    ['a directory of csv2_backup_dir (a TableDir as the host directory has it): they stay cached', false],
  ])('%s', async (_name, snapshot) => {
    const TABLE_BYTES = 96 << 20;
    const dir = snapshot
      ? (await UserSnapshotWriter.begin(join(diskDir, 'user'), { gzip: false, log: captureLog().log })).tables
      : new TableDir(join(diskDir, 'host'), { fileMode: 0o644 });
    if (!snapshot) await dir.prepare();
    const piece = Buffer.alloc(1 << 20, 0x61);
    const written = await dir.write({
      table: 't',
      file: 't',
      head: '-- head\n',
      tail: '\n',
      rows: async (sink) => {
        for (let i = 0; i < TABLE_BYTES / piece.length; i++) if (sink.push(piece)) await sink.flush();
        return { rows: 1, statements: 1 };
      },
    });
    const resident = await residentBytes(written.stagedPath as string);
    // As above: the first 32 MiB are dropped by the time the file is written, whatever the disk's speed.
    if (snapshot) expect(resident).toBeLessThanOrEqual(TABLE_BYTES - (32 << 20) + 4096);
    else expect(resident).toBeGreaterThan(TABLE_BYTES - (32 << 20) + 4096);
  }, 60_000);
});
