/** Small concurrency tools for the backup run (pure scheduling, no I/O of their own). */

/**
 * Waits for every promise, so none is still at work when the caller reports;
 * then throws the first failure in the order given, or returns the values.
 */
export async function settleAll<T extends readonly unknown[]>(promises: { readonly [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(promises as readonly Promise<unknown>[]);
  for (const s of settled) if (s.status === 'rejected') throw s.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/**
 * Runs `fn` over `items` with at most `limit` at once, started in order; the
 * results come back in the order of `items`. After a failure nothing new
 * starts, the ones running are waited for (none is left writing after the
 * caller cleans up), and the first failure is thrown.
 */
export async function mapInOrder<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failure: { err: unknown } | null = null;
  const worker = async (): Promise<void> => {
    while (failure === null && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== null) throw (failure as { err: unknown }).err;
  return results;
}

/**
 * One at a time, in the order asked: a section that concurrent tasks take
 * turns at. A turn that fails closes it, and so can close(): a turn not yet
 * begun then fails with that error instead of running (after a failed read,
 * a query on a connection that died would never answer).
 */
export class Turns {
  private tail: Promise<unknown> = Promise.resolve();
  private closed: { err: unknown } | null = null;

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail
      .then(() => {
        if (this.closed) throw this.closed.err;
        return fn();
      })
      .catch((err: unknown) => {
        // Closed before the next turn sees this one end.
        this.close(err);
        throw err;
      });
    // The next turn waits for this one to end, however it ends.
    this.tail = result.catch(() => undefined);
    return result;
  }

  close(err: unknown): void {
    this.closed ??= { err };
  }
}
