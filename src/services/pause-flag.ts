/**
 * `quiesce: pause-flag`: the original CSV2 utility's default mode. Instead of
 * stopping the consumers, the run sets CSV2's pause flag to 'True' (the
 * consumers idle while it is set), waits pause_interval, and puts back the
 * value the flag had before, as soon as the consumers may run again and on
 * every failure path. The previous value is recorded durably before the flag
 * changes, so a run killed outright has the next one put it back. No
 * systemctl call is made.
 */
import { performance } from 'node:perf_hooks';
import { ServiceError, errorMessage } from '../errors';
import type { Logger } from '../log';
import type { PauseFlagDb } from './pause-flag-db';
import {
  clearPauseFlagRecord,
  pauseRecordExists,
  pauseRecordPath,
  settlePauseFlagRecord,
  writePauseFlagRecord,
  type FlagTarget,
  type PauseFlagRecord,
} from './pause-flag-record';
import { FLAG_ROW, PAUSE_FLAG } from './pause-flag-sql';
import type { Quiescer } from './types';
import type { PauseFlagReport, QuiesceReport } from '../domain/service-report';

export interface PauseFlagQuiescerOptions {
  flag: PauseFlagDb;
  /** The database the flag lives in (written into the recovery record). */
  target: FlagTarget;
  /** Wait after setting the flag, seconds: the consumers finish what they are doing and see it. */
  pauseIntervalSec: number;
  /** Holds the recovery record. */
  stateDir: string;
  log: Logger;
  sleep?: (ms: number) => Promise<void>;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function createPauseFlagQuiescer(opts: PauseFlagQuiescerOptions): Quiescer {
  const { flag, log, stateDir } = opts;
  const sleep = opts.sleep ?? realSleep;
  let flagReport: PauseFlagReport | null = null;
  /** Set while the flag may hold the run's 'True': the value to put back is in it. */
  let record: PauseFlagRecord | null = null;
  let pausedAt: number | null = null;
  let resumedAt: number | null = null;
  let quiescing: Promise<void> | null = null;
  let resuming: Promise<void> | null = null;

  /** Puts the previous value back (if the flag still holds 'True'); on failure the record stays for the next run. Never throws. */
  async function putBack(): Promise<void> {
    const held = record;
    if (!held) return;
    try {
      const outcome = await flag.restore(held.previous);
      record = null;
      await clearPauseFlagRecord(stateDir, held).catch((err: unknown) =>
        log.error('could not delete the pause flag recovery record; the next run finds the flag already back', { file: pauseRecordPath(stateDir), err: errorMessage(err) }),
      );
      resumedAt = performance.now();
      if (flagReport) flagReport.restore = outcome;
      const fields = { row: FLAG_ROW, value: held.previous };
      if (outcome === 'restored') log.info('consumers may run again: pause flag put back', fields);
      else if (outcome === 'unchanged') log.info('pause flag already holds its previous value', fields);
      else if (outcome === 'changed') log.warn('pause flag was changed by someone else during the backup; left as it is', fields);
      else log.warn('pause flag row is gone; nothing to put back', fields);
    } catch (err) {
      record = null;
      settlePauseFlagRecord(held);
      if (flagReport) flagReport.error = errorMessage(err);
      log.error('could not put the pause flag back; consumers stay paused; the next run puts it back', {
        row: FLAG_ROW,
        value: held.previous,
        record: pauseRecordPath(stateDir),
        err: errorMessage(err),
      });
    }
  }

  async function doQuiesce(): Promise<void> {
    // After recovery (withServices) a record left means one this run must not overwrite (another database's).
    if (await pauseRecordExists(stateDir)) {
      throw new ServiceError(
        `a pause flag recovery record from an interrupted run is still pending (${pauseRecordPath(stateDir)}): ` +
          'put that flag back by hand as the log says, delete the file, then run again',
      );
    }
    let previous: string | null;
    try {
      previous = await flag.pause(async (value) => {
        record = await writePauseFlagRecord(stateDir, opts.target, value);
      });
    } catch (err) {
      // The change may or may not have committed: put back whatever this run may have set.
      await putBack();
      throw err;
    }
    pausedAt = performance.now();
    flagReport = { previous, restore: null, error: null };
    if (previous === PAUSE_FLAG.paused) {
      log.warn('pause flag was already set before the backup; left set', { row: FLAG_ROW });
      return;
    }
    log.info('consumers paused: pause flag set', { row: FLAG_ROW, previous });
    if (opts.pauseIntervalSec > 0) {
      log.info('pausing after setting the pause flag', { seconds: opts.pauseIntervalSec });
      await sleep(opts.pauseIntervalSec * 1000);
    }
  }

  return {
    quiesce() {
      quiescing ??= doQuiesce();
      return quiescing;
    },
    release() {
      // A release racing a quiesce waits for it; a failed quiesce has already put the flag back.
      resuming ??= (quiescing ?? Promise.resolve()).catch(() => undefined).then(putBack);
      return resuming;
    },
    resume() {
      // The run is over: the flag is put back once, whether release() came first or not (there is no target mode here).
      resuming ??= (quiescing ?? Promise.resolve()).catch(() => undefined).then(putBack);
      return resuming;
    },
    report(): QuiesceReport {
      return {
        mode: 'default',
        stopped: [],
        alreadyStopped: [],
        restarted: [],
        restartFailures: [],
        providersRestarted: [],
        downtimeMs: pausedAt !== null && resumedAt !== null ? Math.round(resumedAt - pausedAt) : null,
        ...(flagReport ? { pauseFlag: { ...flagReport } } : {}),
      };
    },
  };
}
