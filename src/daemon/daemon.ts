/**
 * The long-running service: backs up on a cron cadence under systemd.
 * Never silent (every run lands in the log, the status file, metrics and the
 * unit's STATUS=), never wedged (watchdog pings from a timer, withheld while a
 * row dump stops moving; overlapping ticks skipped), never stopped by one bad night (a failed run is recorded and the
 * next tick comes anyway). The backup itself is the injected runOnce.
 */
import type { BackupSummary } from '../domain/summary';
import type { BackupConfig } from '../config/types';
import { ConfigError, EXIT, errorMessage, exitCodeOf, formatConfigMessage } from '../errors';
import type { Logger } from '../log';
import { dumpProgress, type DumpProgress } from '../dump/progress';
import type { ServiceMode } from '../domain/service-report';
import { watchdogIntervalMs, type Notifier } from './notify';
import { ProgressWatchdog } from './watchdog';
import { checkSchedule, startSchedule, type Schedule } from './schedule';
import { guarded, previousRecord, recordRun } from '../bookkeeping/record';
import type { StatusRecord } from '../bookkeeping/status';

/** Where SIGHUP/SIGTERM/SIGINT come from: `process`, or an EventEmitter in tests. */
export interface SignalSource {
  on(signal: 'SIGHUP' | 'SIGTERM' | 'SIGINT', listener: () => void): unknown;
  off(signal: 'SIGHUP' | 'SIGTERM' | 'SIGINT', listener: () => void): unknown;
}

/** What one backup may be asked beyond the configuration (a run started through the API). */
export interface RunOptions {
  /** Instead of the daemon's own mode (e.g. `online`). */
  mode?: ServiceMode;
  /** Each phase of the run as it starts (the first one comes once the run lock is taken). */
  onPhase?: (phase: string) => void;
}

/** What a service running beside the schedule (the HTTP API) may ask of the daemon. */
export interface DaemonControl {
  /** The configuration in force (the newest valid one). */
  config(): BackupConfig;
  /**
   * Starts a backup now, as a tick would (recorded alike). Null when a run or
   * task is in progress or the daemon is stopping. `done` settles (never
   * rejects) with the recorded status, once the run is over.
   */
  startBackup(options: RunOptions): { startedAt: Date; done: Promise<StatusRecord | null> } | null;
  /**
   * Runs `work` as the daemon's current activity: no backup starts meanwhile,
   * SIGTERM aborts its signal and waits for it. Null when busy or stopping.
   * A tick that comes during a `short` task runs once it ends; during any
   * other it is skipped, as during a run.
   */
  startTask<T>(label: string, work: (signal: AbortSignal) => Promise<T>, options?: { short?: boolean }): Promise<T> | null;
}

/** Started after recovery, before READY=1 (a failure to start ends the daemon); stopped on SIGTERM. */
export interface DaemonService {
  start(control: DaemonControl): Promise<void>;
  /** Must settle; the daemon exits once every service has stopped and the run in progress ended. */
  stop(): Promise<void>;
}

export interface DaemonOptions {
  /** Reads and validates the configuration; throws ConfigError. Called at start and on SIGHUP. */
  loadConfig: () => BackupConfig;
  /** One backup. On abort it must bring the run to a safe end (consumers started again, no half files) and settle. */
  runOnce: (config: BackupConfig, signal: AbortSignal, options?: RunOptions) => Promise<BackupSummary>;
  /** Called after the daemon has recorded a run (status, metrics, retention). */
  afterRun?: (config: BackupConfig, outcome: BackupSummary | Error) => Promise<void>;
  /** Restarts consumers left stopped by an interrupted run; called once before scheduling. */
  recover?: (config: BackupConfig) => Promise<void>;
  /** Beside the schedule, e.g. the HTTP API. */
  services?: DaemonService[];
  notifier: Notifier;
  log: Logger;
  /** For WATCHDOG_USEC / WATCHDOG_PID; process.env by default. */
  env?: NodeJS.ProcessEnv;
  signals?: SignalSource;
  now?: () => Date;
  /** How the row dump is getting on (src/dump/progress.ts by default): the watchdog pings only while it moves. */
  progress?: () => DumpProgress;
  /** Calls `fn` every `ms` until stopped: setInterval by default; tests drive the watchdog with their own. */
  every?: (ms: number, fn: () => void) => { stop(): void };
}

function everyInterval(ms: number, fn: () => void): { stop(): void } {
  const timer = setInterval(fn, ms);
  return { stop: () => clearInterval(timer) };
}

interface Running {
  startedAt: Date;
  controller: AbortController;
  /** Settles (never rejects) once the run is over and recorded. */
  done: Promise<unknown>;
  /** A tick that comes meanwhile runs once this ends, instead of being skipped. */
  short?: boolean;
  tickDeferred?: boolean;
}

/** Resolves with the process exit code once stopped by SIGTERM/SIGINT (0), or at once for an invalid configuration. */
export async function runDaemon(opts: DaemonOptions): Promise<number> {
  const { log, notifier } = opts;
  const signals: SignalSource = opts.signals ?? process;
  const now = opts.now ?? (() => new Date());

  let config: BackupConfig;
  let schedule: Schedule | null = null;
  try {
    config = opts.loadConfig();
    checkSchedule(config.schedule, config.file);
  } catch (err) {
    logConfigProblems(log, 'invalid configuration, not starting', err);
    return err instanceof ConfigError ? EXIT.config : exitCodeOf(err);
  }
  let stopping = false;
  let current: Running | null = null;
  /** The services to stop: all of them, or those started before one failed to. */
  let services: DaemonService[] = opts.services ?? [];
  let last: StatusRecord | null = await previousRecord(config.statusFile, log);

  let resolveStopped: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (resolveStopped = resolve));

  const watchdogMs = watchdogIntervalMs(opts.env ?? process.env);
  // A timer, not a hook in the run: it keeps firing while a long dump awaits I/O, and pings as long as the dump moves.
  const progress = new ProgressWatchdog(opts.progress ?? dumpProgress);
  let withheld = false;
  const watchdogTick = (): void => {
    const verdict = progress.check(current !== null);
    if (verdict.ping) {
      if (withheld) log.info('the row dump moves again; watchdog pings resumed');
      withheld = false;
      notifier.watchdog();
    } else if (!withheld) {
      withheld = true;
      log.error('the row dump has not moved since the last watchdog ping; WATCHDOG=1 withheld, systemd restarts the daemon if it stays stalled', {
        runningSince: current?.startedAt.toISOString(),
      });
    }
  };
  const watchdog = watchdogMs !== null ? (opts.every ?? everyInterval)(watchdogMs, watchdogTick) : null;
  if (watchdogMs !== null) watchdogTick();

  const idleStatus = (): void => {
    const next = schedule?.nextRun();
    const lastText = last ? `last run ${last.result === 'success' ? 'succeeded' : `FAILED (exit ${last.exitCode})`} at ${last.finishedAt}` : 'no run yet';
    notifier.status(`idle; next run ${next ? next.toISOString() : 'not scheduled'}; ${lastText}`);
  };

  function tick(): void {
    if (stopping) return;
    if (current?.short) {
      // Several ticks during one short task make one run after it.
      if (!current.tickDeferred) {
        current.tickDeferred = true;
        void current.done.then(() => tick());
      }
      return;
    }
    if (current) {
      log.warn('previous run still in progress, tick skipped', { runningSince: current.startedAt.toISOString() });
      return;
    }
    current = startRun(config);
  }

  function startRun(runConfig: BackupConfig, options?: RunOptions): Running {
    const controller = new AbortController();
    const startedAt = now();
    log.info('backup run started', options?.mode ? { mode: options.mode } : {});
    notifier.status(`running backup (since ${startedAt.toISOString()})`);
    const done = (async () => {
      let outcome: BackupSummary | Error;
      try {
        const summary = await opts.runOnce(runConfig, controller.signal, options);
        outcome = summary;
        const fields = { durationMs: summary.durationMs, commit: summary.commit ?? 'none', filesChanged: summary.filesChanged.length };
        if (summary.errors.length > 0) log.error('backup run finished with errors', { ...fields, errors: summary.errors });
        else log.info('backup run finished', fields);
      } catch (err) {
        outcome = err instanceof Error ? err : new Error(String(err));
        log.error('backup run failed', { err: errorMessage(err), exitCode: exitCodeOf(err), aborted: controller.signal.aborted });
      }
      // Nothing may reject out of here: `done` is awaited on shutdown, and an unhandled rejection would end the daemon.
      return record(runConfig, outcome, startedAt, controller.signal.aborted).then(
        () => last,
        (err: unknown) => {
          log.error('cannot record the run', { err: errorMessage(err) });
          return null;
        },
      );
    })().finally(() => {
      current = null;
      if (!stopping) idleStatus();
    });
    return { startedAt, controller, done };
  }

  /** Status file, metrics, retention (src/daemon/record.ts), then the caller's hook; each failure is logged, none ends the daemon. */
  async function record(runConfig: BackupConfig, outcome: BackupSummary | Error, startedAt: Date, aborted: boolean): Promise<void> {
    const nextRun = stopping ? null : (schedule?.nextRun() ?? null);
    last = await recordRun(runConfig, outcome, { startedAt, finishedAt: now(), aborted, previous: last, nextRun, log });
    if (opts.afterRun) {
      const hook = opts.afterRun;
      await guarded(log, 'after-run hook failed', {}, () => hook(runConfig, outcome));
    }
  }

  function reload(): void {
    if (stopping) return;
    log.info('reloading configuration');
    let next: BackupConfig;
    let nextSchedule: Schedule;
    try {
      next = opts.loadConfig();
      nextSchedule = startSchedule(next.schedule, () => tick(), log, next.file);
    } catch (err) {
      logConfigProblems(log, 'configuration reload failed, keeping the previous configuration', err);
      return;
    }
    // A run in progress keeps the configuration it started with.
    schedule?.stop();
    schedule = nextSchedule;
    config = next;
    log.info('configuration reloaded', { schedule: next.schedule, nextRun: nextSchedule.nextRun()?.toISOString() ?? 'none' });
    if (!current) idleStatus();
  }

  function stop(signal: string): void {
    if (stopping) {
      log.info('already stopping', { signal });
      return;
    }
    stopping = true;
    const running = current;
    log.info('stopping', { signal, runInProgress: running !== null });
    // The status first: STOPPING=1 is the last thing systemd hears before the exit.
    if (running) notifier.status('stopping: bringing the backup run to a safe end');
    notifier.stopping();
    schedule?.stop();
    running?.controller.abort(new Error(`received ${signal}`));
    void (async () => {
      // Services (the API) stop taking work at once and end what they serve while the run comes to its end.
      await Promise.all([running?.done, ...services.map((s) => guarded(log, 'a service did not stop cleanly', {}, () => s.stop()))]);
      watchdog?.stop();
      signals.off('SIGHUP', onHup);
      signals.off('SIGTERM', onTerm);
      signals.off('SIGINT', onInt);
      await notifier.flush();
      log.info('stopped');
      resolveStopped();
    })();
  }

  const onHup = (): void => reload();
  const onTerm = (): void => stop('SIGTERM');
  const onInt = (): void => stop('SIGINT');
  signals.on('SIGHUP', onHup);
  signals.on('SIGTERM', onTerm);
  signals.on('SIGINT', onInt);

  if (opts.recover) {
    const recover = opts.recover;
    notifier.status('starting: checking for consumers left stopped by an interrupted run');
    await guarded(log, 'recovery of an interrupted run failed', {}, () => recover(config));
  }
  const control: DaemonControl = {
    config: () => config,
    startBackup(options) {
      if (stopping || current) return null;
      const run = startRun(config, options);
      current = run;
      return { startedAt: run.startedAt, done: run.done as Promise<StatusRecord | null> };
    },
    startTask(label, work, options) {
      if (stopping || current) return null;
      const controller = new AbortController();
      const result = work(controller.signal);
      const task: Running = {
        startedAt: now(),
        controller,
        short: options?.short ?? false,
        done: result.then(
          () => undefined,
          () => undefined,
        ),
      };
      if (!task.short) log.info('task started', { task: label });
      current = task;
      void task.done.finally(() => {
        if (current === task) current = null;
        if (!task.short) log.info('task finished', { task: label });
      });
      return result;
    },
  };
  for (const [i, service] of [...services].entries()) {
    if (stopping) break;
    try {
      await service.start(control);
    } catch (err) {
      logConfigProblems(log, 'a service could not start, not starting', err);
      // Those started already stop again; stop() then ends the daemon, whose exit code says why.
      services = services.slice(0, i);
      stop('start failure');
      await stopped;
      return err instanceof ConfigError ? EXIT.config : exitCodeOf(err);
    }
  }
  if (!stopping) {
    schedule = startSchedule(config.schedule, () => tick(), log, config.file);
    notifier.ready();
    idleStatus();
    log.info('daemon started', { schedule: config.schedule, nextRun: schedule.nextRun()?.toISOString() ?? 'none' });
  }
  await stopped;
  return EXIT.ok;
}

function logConfigProblems(log: Logger, message: string, err: unknown): void {
  if (err instanceof ConfigError) {
    for (const p of err.problems) log.error(message, { problem: formatConfigMessage(p) });
  } else {
    log.error(message, { err: errorMessage(err) });
  }
}
