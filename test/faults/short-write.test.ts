/**
 * A disk that fills up in the middle of a flush: the kernel writes what fits
 * and libuv reports that count without an error. The file sink must fail the
 * file with the disk's own error rather than record a checksum of bytes that
 * never reached the disk.
 */
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreError } from '../../src/errors';
import { FileSink } from '../../src/store/file-sink';
import { mountTmpfs, unmount } from '../helpers/faults';

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sbt-short-write-'));
  await mountTmpfs(dir, '1m');
});
afterAll(async () => {
  await unmount(dir).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

test('a flush the disk can take only part of fails with a StoreError naming the file', async () => {
  const path = join(dir, 'table');
  const sink = await FileSink.open(path);
  // One flush of 1.5 MiB into 1 MiB: the first bytes land, the rest do not.
  expect(sink.push(Buffer.alloc(1536 << 10, 0x61))).toBe(true);
  const failure = await sink.flush().then(
    () => null,
    (err: unknown) => err,
  );
  await sink.abort();
  expect(failure).toBeInstanceOf(StoreError);
  expect(String((failure as Error).message)).toContain(path);
  expect(String((failure as Error).message)).toMatch(/no space left on device/i);
});
