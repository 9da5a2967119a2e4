/**
 * The cron cadence, on node-cron 4. The tick only starts a run and returns:
 * whether a run is already in progress is the daemon's business, because a
 * run outlives the task that started it when SIGHUP reschedules.
 */
import type { ScheduledTask } from 'node-cron';
import { nodeCron } from '../config/cron';
import { ConfigError } from '../errors';
import type { Logger } from '../log';

export interface Schedule {
  readonly expression: string;
  /** The next tick, or null once stopped. */
  nextRun(): Date | null;
  /** Idempotent. */
  stop(): void;
}

/** Throws ConfigError (key `schedule`) when node-cron refuses the expression. */
export function checkSchedule(expression: string, file: string): void {
  const v = nodeCron().validateDetailed(expression);
  if (!v.valid) {
    const why = v.errors.map((e) => e.message).join('; ') || 'invalid cron expression';
    throw new ConfigError([{ file, key: 'schedule', message: `${JSON.stringify(expression)}: ${why}` }]);
  }
}

export function startSchedule(expression: string, onTick: () => void, log: Logger, file: string): Schedule {
  checkSchedule(expression, file);
  const task: ScheduledTask = nodeCron().createTask(
    expression,
    () => {
      onTick();
    },
    {
      // node-cron's own warnings (e.g. a missed tick after the event loop stalled) go to our log.
      logger: {
        info: (m) => log.debug('scheduler', { detail: String(m) }),
        warn: (m) => log.warn('scheduler warning', { detail: String(m) }),
        error: (m, err) => log.error('scheduler error', { detail: String(m), err: err ? err.message : undefined }),
        debug: (m) => log.debug('scheduler', { detail: String(m) }),
      },
    },
  );
  void task.start();
  let stopped = false;
  return {
    expression,
    nextRun: () => (stopped ? null : task.getNextRun()),
    stop() {
      if (stopped) return;
      stopped = true;
      void task.destroy();
    },
  };
}

/**
 * Time between the next two ticks, in ms (null for an invalid expression):
 * what "overdue" means for `schema_backup status` when no --max-age is given.
 */
export function scheduleIntervalMs(expression: string): number | null {
  const cron = nodeCron();
  if (!cron.validateDetailed(expression).valid) return null;
  const task = cron.createTask(expression, () => undefined);
  try {
    const runs = task.getNextRuns(2);
    return runs.length === 2 ? (runs[1] as Date).getTime() - (runs[0] as Date).getTime() : null;
  } finally {
    void task.destroy();
  }
}

const SLACK_HOURS = 2;

/** When a success is overdue without --max-age: one schedule interval plus two hours (26 h for a daily schedule). */
export function defaultMaxAgeHours(schedule: string): number {
  const interval = scheduleIntervalMs(schedule);
  return (interval === null ? 24 : interval / 3_600_000) + SLACK_HOURS;
}
