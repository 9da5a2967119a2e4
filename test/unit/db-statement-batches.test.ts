import { statementBatches } from '../../src/db/connect';

test('statements are cut into batches of at most 200, in order', () => {
  const statements = Array.from({ length: 450 }, (_, i) => `SELECT ${i}`);
  const batches = statementBatches(statements);
  expect(batches.map((b) => b.length)).toEqual([200, 200, 50]);
  expect(batches.flat()).toEqual(statements);
});

test('a batch stays under 64 KiB of text, and a longer statement goes alone', () => {
  const long = 'x'.repeat(30_000);
  const huge = 'y'.repeat(100_000);
  const batches = statementBatches([long, long, long, huge, 'SELECT 1']);
  expect(batches).toEqual([[long, long], [long], [huge], ['SELECT 1']]);
  expect(statementBatches([])).toEqual([]);
});
