/**
 * A connection's read-ahead (src/dump/rows.ts ReadAhead) counts what its blocks hold in memory: a block grown to
 * hold a tuple larger than a block counts as the blocks it holds, so a connection never keeps more than its limit
 * (plus the one block that crossed it) however large the tuples. On a real connection; its pause and resume are
 * watched, not replaced.
 */
import { connect, type Db } from '../../src/db/connect';
import { BlockChannel, ReadAhead } from '../../src/dump/rows';
import { BLOCK_BYTES, type TupleBlock } from '../../src/dump/tuples';
import { createTestDatabase, testCredentials, type TestDatabase } from '../helpers/db';

let tdb: TestDatabase;
let db: Db;

beforeAll(async () => {
  tdb = await createTestDatabase('read_ahead');
  db = await connect(testCredentials(tdb.name));
});
afterAll(async () => {
  await db.close();
  await tdb.drop();
});

const block = (bytes: number): TupleBlock => ({ data: Buffer.allocUnsafe(bytes), lengths: [bytes] });

test('blocks of one block each: the connection pauses at the limit and resumes when the writer takes one', async () => {
  const pause = jest.spyOn(db.raw, 'pause');
  const resume = jest.spyOn(db.raw, 'resume');
  try {
    const channel = new BlockChannel(new ReadAhead(db, 16));
    for (let i = 0; i < 15; i++) channel.put(block(BLOCK_BYTES));
    expect(pause).not.toHaveBeenCalled();
    channel.put(block(BLOCK_BYTES));
    expect(pause).toHaveBeenCalledTimes(1);
    await channel.next();
    expect(resume).toHaveBeenCalledTimes(1);
  } finally {
    pause.mockRestore();
    resume.mockRestore();
  }
});

test('one block grown to 17 MiB for a large tuple fills a 16-block read-ahead at once; taking it resumes', async () => {
  const pause = jest.spyOn(db.raw, 'pause');
  const resume = jest.spyOn(db.raw, 'resume');
  try {
    const channel = new BlockChannel(new ReadAhead(db, 16));
    channel.put(block(BLOCK_BYTES));
    expect(pause).not.toHaveBeenCalled();
    channel.put(block(17 * BLOCK_BYTES));
    expect(pause).toHaveBeenCalledTimes(1);
    await channel.next();
    expect(resume).not.toHaveBeenCalled();
    await channel.next();
    expect(resume).toHaveBeenCalledTimes(1);
  } finally {
    pause.mockRestore();
    resume.mockRestore();
  }
});
