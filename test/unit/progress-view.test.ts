/**
 * The progress a person sees, without a terminal: a line per large table when
 * it is done, one every 30 s while a table is read, nothing for small tables;
 * driven by the dump's own progress counters.
 */
import { PassThrough } from 'node:stream';
import { startProgressView } from '../../src/cli/progress-view';
import { progress } from '../../src/dump/progress';
import { captureLog } from '../helpers/capture-log';

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

test('without a terminal: a line per large table, a line every 30 s while reading, none for small tables', () => {
  const { log, text: logText } = captureLog();
  const lines = () => logText().split('\n');
  let now = 0;
  progress.planned(new Map([['big', 400_000], ['small', 10]]));
  const view = startProgressView({ log, stream: new PassThrough(), now: () => now });

  progress.readStarted('small');
  progress.moved(10, 500);
  progress.readEnded();

  progress.readStarted('big');
  for (let second = 1; second <= 31; second++) {
    progress.moved(5_000, 600_000);
    now += 1000;
    jest.advanceTimersByTime(1000);
  }
  progress.readEnded();
  view.stop();

  const text = lines().join('\n');
  expect(text).not.toMatch(/table=small/);
  expect(text).toMatch(/progress table=big rows=15\d{4} estimatedRows=400000 bytes=\d+ rowsPerSecond=\d+ secondsLeft=\d+/);
  expect(text).toMatch(/table done table=big rows=155000 bytes=18600000/);
  expect(lines().filter((l) => l.includes('progress table=big'))).toHaveLength(1);
});

test('a restore reports the bytes of its files loaded so far', () => {
  const { log, text: logText } = captureLog();
  const lines = () => logText().split('\n');
  let now = 0;
  progress.planned(new Map());
  progress.loadPlanned(10 << 20);
  const view = startProgressView({ log, stream: new PassThrough(), now: () => now });
  progress.loaded(4 << 20);
  now += 31_000;
  jest.advanceTimersByTime(31_000);
  view.stop();
  progress.loadPlanned(0);
  expect(lines().join('\n')).toMatch(/restore progress bytes=4194304 of=10485760/);
});
