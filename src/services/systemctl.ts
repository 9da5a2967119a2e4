/**
 * systemctl behind a narrow interface. Every call goes through src/proc/run
 * with a timeout, so a hung unit cannot hang the backup; every failure is a
 * ServiceError naming the unit, the verb and what systemctl said.
 */
import { runAllowingFailure, type RunResult } from '../proc/run';
import { CommandError, ServiceError, errorMessage } from '../errors';

export interface Systemctl {
  /**
   * True when the unit runs or is on its way up (`activating`, `reloading`):
   * either way it may write during the backup, so it counts as running.
   */
  isActive(unit: string): Promise<boolean>;
  stop(unit: string): Promise<void>;
  start(unit: string): Promise<void>;
  restart(unit: string): Promise<void>;
}

export interface SystemctlOptions {
  /** Limit for each call, seconds. */
  timeoutSec: number;
  /** Environment of the calls (defaults to process.env); also where SCHEMA_BACKUP_SYSTEMCTL and PATH are read. */
  env?: NodeJS.ProcessEnv;
}

/** `systemctl is-active` exits 3 for any state but active; these are still "running" for our purpose. */
const COMING_UP = new Set(['activating', 'reloading', 'refreshing']);

/** The binary: $SCHEMA_BACKUP_SYSTEMCTL when set, else `systemctl` looked up on the PATH of `env`. */
export function systemctlBinary(env: NodeJS.ProcessEnv): string {
  const override = env.SCHEMA_BACKUP_SYSTEMCTL;
  return override && override.trim() ? override : 'systemctl';
}

/** Message of a failed call: verb, unit, exit code or reason, and systemctl's stderr. */
export function describeFailure(verb: string, unit: string, result: { code: number | null; stderr: string; reason?: string }): string {
  const how = result.reason ?? `failed (exit ${result.code})`;
  const said = result.stderr.trim();
  return `systemctl ${verb} ${unit} ${how}${said ? `: ${said}` : ''}`;
}

export function createSystemctl(opts: SystemctlOptions): Systemctl {
  const env = opts.env ?? process.env;
  const binary = systemctlBinary(env);
  const timeoutMs = Math.max(1, Math.round(opts.timeoutSec * 1000));

  async function call(verb: string, unit: string): Promise<RunResult> {
    try {
      return await runAllowingFailure(binary, [verb, unit], { env, timeoutMs });
    } catch (err) {
      // Spawn failure or timeout: run() rejects with a CommandError.
      if (err instanceof CommandError) {
        const reason = /timed out after/.test(err.message)
          ? `timed out after ${opts.timeoutSec} s`
          : `could not be run (${err.message})`;
        throw new ServiceError(describeFailure(verb, unit, { code: err.code, stderr: err.stderr, reason }), { cause: err });
      }
      throw new ServiceError(`systemctl ${verb} ${unit} failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  async function act(verb: 'stop' | 'start' | 'restart', unit: string): Promise<void> {
    const result = await call(verb, unit);
    if (result.code !== 0) throw new ServiceError(describeFailure(verb, unit, result));
  }

  return {
    async isActive(unit) {
      const result = await call('is-active', unit);
      if (result.code === 0) return true;
      if (result.code === 3) return COMING_UP.has(result.stdout.trim());
      throw new ServiceError(describeFailure('is-active', unit, result));
    },
    stop: (unit) => act('stop', unit),
    start: (unit) => act('start', unit),
    restart: (unit) => act('restart', unit),
  };
}
