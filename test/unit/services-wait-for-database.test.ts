/** waitForDatabaseFn: polling logic with a connect function that fails a given number of times. */
import { DatabaseError } from '../../src/errors';
import { waitForDatabaseFn } from '../../src/services/quiesce';

test('retries until connect succeeds', async () => {
  let attempts = 0;
  const slept: number[] = [];
  const wait = waitForDatabaseFn(
    async () => {
      attempts++;
      if (attempts < 4) throw new Error('ECONNREFUSED');
    },
    { timeoutMs: 10000, intervalMs: 10, sleep: async (ms) => void slept.push(ms) },
  );
  await wait();
  expect(attempts).toBe(4);
  expect(slept).toEqual([10, 10, 10]);
});

test('gives up after the timeout with a DatabaseError carrying the last error', async () => {
  const started = Date.now();
  const wait = waitForDatabaseFn(async () => {
    throw new Error('ECONNREFUSED 127.0.0.1:1');
  }, { timeoutMs: 300, intervalMs: 50 });
  const err = await wait().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DatabaseError);
  expect((err as Error).message).toMatch(/did not answer within 0.3 s after restarting the providers \(\d+ attempts\): ECONNREFUSED 127\.0\.0\.1:1/);
  expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  expect(Date.now() - started).toBeLessThan(3000);
});

test('a connect attempt that hangs is cut at the deadline', async () => {
  const wait = waitForDatabaseFn(() => new Promise<void>(() => undefined), 200);
  const started = Date.now();
  await expect(wait()).rejects.toThrow(/no answer within/);
  expect(Date.now() - started).toBeLessThan(2000);
});
