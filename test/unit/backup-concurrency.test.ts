/** The backup run's scheduling: tables at once in plan order, reads one at a time, failures that wait for the running. */
import { Turns, mapInOrder, settleAll } from '../../src/backup/concurrency';

const tick = () => new Promise((r) => setImmediate(r));

test('mapInOrder: at most `limit` at once, started in order, results in the order of the items', async () => {
  let running = 0;
  let most = 0;
  const started: number[] = [];
  const results = await mapInOrder([5, 1, 4, 2, 3, 0], 3, async (n) => {
    started.push(n);
    running++;
    most = Math.max(most, running);
    for (let i = 0; i < n; i++) await tick();
    running--;
    return n * 10;
  });
  expect(results).toEqual([50, 10, 40, 20, 30, 0]);
  expect(started).toEqual([5, 1, 4, 2, 3, 0]);
  expect(most).toBe(3);
});

test('mapInOrder: after a failure nothing new starts, the running ones end first, and the first failure is thrown', async () => {
  const started: number[] = [];
  const ended: number[] = [];
  let thrownWhileRunning = false;
  const run = mapInOrder([0, 1, 2, 3, 4, 5], 2, async (n) => {
    started.push(n);
    if (n === 1) {
      await tick();
      throw new Error(`table ${n} failed`);
    }
    for (let i = 0; i < 5; i++) await tick();
    ended.push(n);
    return n;
  });
  await expect(run.catch((err: Error) => {
    thrownWhileRunning = started.some((n) => n !== 1 && !ended.includes(n));
    throw err;
  })).rejects.toThrow('table 1 failed');
  expect(thrownWhileRunning).toBe(false);
  // 1 fails while 0 runs: 0 ends before the failure is thrown, and 2 never starts.
  expect(started).toEqual([0, 1]);
  expect(ended).toEqual([0]);
});

test('mapInOrder: no items, no calls', async () => {
  const fn = jest.fn(async () => 1);
  expect(await mapInOrder([], 4, fn)).toEqual([]);
  expect(fn).not.toHaveBeenCalled();
});

test('Turns: one at a time in the order asked; a failed turn closes the section, so the next fails without running', async () => {
  const turns = new Turns();
  const log: string[] = [];
  const turn = (name: string, fail = false) =>
    turns.run(async () => {
      log.push(`${name} start`);
      await tick();
      await tick();
      log.push(`${name} end`);
      if (fail) throw new Error(name);
      return name;
    });
  const [a, b, c] = await Promise.allSettled([turn('a'), turn('b', true), turn('c')]);
  expect(log).toEqual(['a start', 'a end', 'b start', 'b end']);
  expect(a).toEqual({ status: 'fulfilled', value: 'a' });
  expect(b).toMatchObject({ status: 'rejected', reason: new Error('b') });
  expect(c).toMatchObject({ status: 'rejected', reason: new Error('b') });
});

test('Turns: once closed, turns not yet begun fail with the closing error and do not run', async () => {
  const turns = new Turns();
  const ran: string[] = [];
  const first = turns.run(async () => {
    await tick();
    turns.close(new Error('the connection died'));
    ran.push('first');
    return 1;
  });
  const second = turns.run(async () => {
    ran.push('second');
    return 2;
  });
  await expect(first).resolves.toBe(1);
  await expect(second).rejects.toThrow('the connection died');
  await expect(turns.run(async () => ran.push('third'))).rejects.toThrow('the connection died');
  expect(ran).toEqual(['first']);
});

test('settleAll: the values in order; on failure it waits for every promise, then throws the first failure in the order given', async () => {
  expect(await settleAll([Promise.resolve(1), Promise.resolve('two')])).toEqual([1, 'two']);
  let slowEnded = false;
  const slow = (async () => {
    for (let i = 0; i < 5; i++) await tick();
    slowEnded = true;
    throw new Error('second');
  })();
  const fast = Promise.reject(new Error('failed first, second in order'));
  // `slow` is first in the order given: its failure is the one thrown, although `fast` failed earlier.
  await expect(settleAll([slow, fast])).rejects.toThrow('second');
  expect(slowEnded).toBe(true);
  let running = true;
  const busy = (async () => {
    for (let i = 0; i < 5; i++) await tick();
    running = false;
  })();
  await expect(settleAll([Promise.reject(new Error('early')), busy])).rejects.toThrow('early');
  expect(running).toBe(false);
});
