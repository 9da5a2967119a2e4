/**
 * After the providers restart, the database takes a moment to accept
 * connections again; the backup waits for it rather than failing at once.
 */
import { DatabaseError, errorMessage } from '../errors';

export interface WaitForDatabaseOptions {
  /** Give up after this long (default 60 s). */
  timeoutMs?: number;
  /** Pause between attempts (default 500 ms). */
  intervalMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Fails an attempt that outlives the deadline (a connect hanging on a dead host). */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/**
 * Returns a function that calls `connect` until it resolves (the database
 * answers) or the timeout passes, then throws DatabaseError with the last error.
 * `connect` should open a connection, run a trivial query and close it.
 */
export function waitForDatabaseFn(connect: () => Promise<void>, options: WaitForDatabaseOptions | number = {}): () => Promise<void> {
  const opts = typeof options === 'number' ? { timeoutMs: options } : options;
  const timeoutMs = opts.timeoutMs ?? 60000;
  const intervalMs = opts.intervalMs ?? 500;
  const sleep = opts.sleep ?? realSleep;
  return async () => {
    const deadline = Date.now() + timeoutMs;
    let attempts = 0;
    for (;;) {
      attempts++;
      let last: unknown;
      try {
        await within(connect(), Math.max(1, deadline - Date.now()));
        return;
      } catch (err) {
        last = err;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new DatabaseError(
          `the database did not answer within ${timeoutMs / 1000} s after restarting the providers (${attempts} attempts): ${errorMessage(last)}`,
          { cause: last },
        );
      }
      await sleep(Math.min(intervalMs, left));
    }
  };
}
