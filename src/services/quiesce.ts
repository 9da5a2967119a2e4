/**
 * Stops the consumers around a backup and starts them again, keeping their
 * downtime short and never leaving one down: the stopped set is recorded
 * durably before the first stop, a failed stop undoes the stops made, and
 * release() and resume() never throw. In target mode the consumers stay
 * stopped, and recorded for recovery, until the run is over.
 */
import { performance } from 'node:perf_hooks';
import { ServiceError, errorMessage } from '../errors';
import type { Logger } from '../log';
import { currentOwner } from './process-identity';
import { clearRecoveryRecord, settleRecoveryRecord, writeRecoveryRecord, type RecoveryRecord } from './recovery';
import type { Systemctl } from './systemctl';
import type { Quiescer, ResumeOptions } from './types';
import type { QuiesceReport, ServiceMode } from '../domain/service-report';

export { waitForDatabaseFn } from './wait-for-database';

export interface QuiescerOptions {
  mode: ServiceMode;
  /** In configuration order: stopped in this order, started in reverse. */
  consumers: string[];
  /** Restarted (in this order) in model and target modes. */
  providers: string[];
  /** Pause after stopping consumers, seconds (skipped when none was stopped). */
  pauseIntervalSec: number;
  systemctl: Systemctl;
  /** Holds the recovery record. */
  stateDir: string;
  log: Logger;
  /** Resolves once the database answers again (after the providers restart). */
  waitForDatabase: () => Promise<void>;
  sleep?: (ms: number) => Promise<void>;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function createQuiescer(opts: QuiescerOptions): Quiescer {
  const { mode, systemctl, log } = opts;
  const sleep = opts.sleep ?? realSleep;
  const report: QuiesceReport = {
    mode,
    stopped: [],
    alreadyStopped: [],
    restarted: [],
    restartFailures: [],
    providersRestarted: [],
    downtimeMs: null,
  };
  let record: RecoveryRecord | null = null;
  /** Stopped by this run and not yet started again. */
  let pending: string[] = [];
  let firstStopAt: number | null = null;
  let lastStartAt: number | null = null;
  let quiescing: Promise<void> | null = null;
  let releasing: Promise<void> | null = null;
  let resuming: Promise<void> | null = null;

  /** Starts the units given (in that order); successes go to `restarted` when this run had stopped them. */
  async function startAgain(units: string[]): Promise<void> {
    for (const unit of units) {
      log.info('starting consumer', { service: unit });
      try {
        await systemctl.start(unit);
        lastStartAt = performance.now();
        if (report.stopped.includes(unit)) report.restarted.push(unit);
      } catch (err) {
        report.restartFailures.push({ service: unit, error: errorMessage(err) });
        log.error('consumer could not be started again', { service: unit, err: errorMessage(err) });
      }
      pending = pending.filter((u) => u !== unit);
    }
    await settleRecord();
  }

  /**
   * Ends this run's record: deleted when every consumer is up again, else
   * rewritten with those still down, so that the next run starts them.
   */
  async function settleRecord(): Promise<void> {
    if (!record) return;
    settleRecoveryRecord(record);
    const down = [...pending, ...report.restartFailures.map((f) => f.service)];
    try {
      if (down.length === 0) {
        await clearRecoveryRecord(opts.stateDir);
      } else {
        settleRecoveryRecord(await writeRecoveryRecord(opts.stateDir, down, currentOwner()));
        log.warn('recovery record kept for consumers still stopped; the next run starts them', { consumers: down });
      }
    } catch (err) {
      log.error('could not update the recovery record', { stateDir: opts.stateDir, err: errorMessage(err) });
    }
    record = null;
  }

  /** Quiesce failed: start again what this run stopped (and the unit that failed to stop), then rethrow. */
  async function abort(err: unknown, alsoStart: string[]): Promise<never> {
    await startAgain([...alsoStart, ...[...pending].reverse()]);
    throw err;
  }

  async function doQuiesce(): Promise<void> {
    if (mode === 'online') {
      log.info('online mode: no service is touched');
      return;
    }
    const running: string[] = [];
    for (const unit of opts.consumers) {
      if (await systemctl.isActive(unit)) {
        running.push(unit);
      } else {
        report.alreadyStopped.push(unit);
        log.info('consumer already stopped; left stopped', { service: unit });
      }
    }
    if (running.length > 0) record = await writeRecoveryRecord(opts.stateDir, running);
    for (const unit of running) {
      log.info('stopping consumer', { service: unit });
      firstStopAt ??= performance.now();
      try {
        await systemctl.stop(unit);
      } catch (err) {
        log.error('could not stop consumer; starting again those stopped, the backup does not begin', {
          service: unit,
          err: errorMessage(err),
        });
        // It was running when we came: whatever the failed stop left, it must run again.
        await abort(new ServiceError(`could not stop consumer ${unit}: ${errorMessage(err)}`, { cause: err }), [unit]);
      }
      report.stopped.push(unit);
      pending.push(unit);
    }
    if (report.stopped.length > 0 && opts.pauseIntervalSec > 0) {
      log.info('pausing after stopping consumers', { seconds: opts.pauseIntervalSec });
      await sleep(opts.pauseIntervalSec * 1000);
    }
    if (mode === 'model' || mode === 'target') {
      for (const unit of opts.providers) {
        log.info('restarting provider', { service: unit });
        try {
          await systemctl.restart(unit);
        } catch (err) {
          log.error('could not restart provider; starting consumers again, the backup does not begin', {
            service: unit,
            err: errorMessage(err),
          });
          await abort(new ServiceError(`could not restart provider ${unit}: ${errorMessage(err)}`, { cause: err }), []);
        }
        report.providersRestarted.push(unit);
      }
      try {
        await opts.waitForDatabase();
      } catch (err) {
        log.error('database did not come back after restarting providers; starting consumers again', { err: errorMessage(err) });
        await abort(err, []);
      }
    }
  }

  /** The consumers may run again: the snapshot is open. Target mode keeps them stopped (and recorded) until the run is over. */
  async function doRelease(): Promise<void> {
    await quiescing?.catch(() => undefined);
    if (mode === 'online' || pending.length === 0) return;
    if (mode === 'target') {
      log.info('target mode: consumers stay stopped until the backup is complete', { consumers: pending });
      return;
    }
    await startAgain([...pending].reverse());
  }

  /** The run is over, failed or not. */
  async function doResume(options: ResumeOptions): Promise<void> {
    // A resume racing a quiesce waits for it; a failed quiesce has already undone its stops.
    await quiescing?.catch(() => undefined);
    await releasing;
    if (mode === 'online' || pending.length === 0) {
      await settleRecord();
      return;
    }
    if (mode === 'target' && !options.backupFailed) {
      log.info('target mode: consumers left stopped for db_upgrade to start', { consumers: pending });
      log.info('downtime not measured in target mode: consumers are still stopped');
      pending = [];
      await settleRecord();
      return;
    }
    if (mode === 'target') log.warn('target mode backup failed: starting consumers again', { consumers: pending });
    await startAgain([...pending].reverse());
  }

  const neverThrow = (p: Promise<void>): Promise<void> =>
    p.catch((err: unknown) => {
      log.error('unexpected error while starting consumers again', { err: errorMessage(err) });
    });

  return {
    quiesce() {
      quiescing ??= doQuiesce();
      return quiescing;
    },
    release() {
      releasing ??= neverThrow(doRelease());
      return releasing;
    },
    resume(options: ResumeOptions = {}) {
      resuming ??= neverThrow(doResume(options));
      return resuming;
    },
    report() {
      const downtimeMs =
        report.stopped.length > 0 && firstStopAt !== null && lastStartAt !== null
          ? Math.round(lastStartAt - firstStopAt)
          : null;
      return {
        ...report,
        stopped: [...report.stopped],
        alreadyStopped: [...report.alreadyStopped],
        restarted: [...report.restarted],
        restartFailures: report.restartFailures.map((f) => ({ ...f })),
        providersRestarted: [...report.providersRestarted],
        downtimeMs,
      };
    },
  };
}
