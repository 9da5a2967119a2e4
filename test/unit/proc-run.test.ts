/** The process runner (src/proc/run.ts): a file streamed to stdin that cannot be read is the run's error. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandError } from '../../src/errors';
import { run } from '../../src/proc/run';

describe('run with inputFile', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'proc-run-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('streams the file to the child', async () => {
    const file = join(dir, 'in.txt');
    writeFileSync(file, 'hello\n');
    await expect(run('cat', [], { inputFile: file })).resolves.toMatchObject({ code: 0, stdout: 'hello\n' });
  });

  it('rejects with a CommandError naming the file when it cannot be read (no unhandled error event)', async () => {
    const missing = join(dir, 'missing.sql');
    const err = await run('cat', [], { inputFile: missing, timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect((err as Error).message).toContain(missing);
  });
});
