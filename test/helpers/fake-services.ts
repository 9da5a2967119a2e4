/**
 * A temporary directory driving test/helpers/fake-systemctl: units are real
 * shell command lines run as real processes.
 */
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, readFileSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run, runAllowingFailure } from '../../src/proc/run';

export const FAKE_SYSTEMCTL = resolve(__dirname, 'fake-systemctl');

export interface FakeCall {
  t: number;
  verb: string;
  unit: string;
}

export interface FakeServices {
  dir: string;
  /** PATH with a `systemctl` (the fake) first, FAKE_SYSTEMCTL_DIR and SCHEMA_BACKUP_SYSTEMCTL. */
  env: NodeJS.ProcessEnv;
  calls(): Promise<FakeCall[]>;
  /** Forgets the calls recorded so far. */
  clearCalls(): void;
  isRunning(unit: string): Promise<boolean>;
  /** Pid of the unit's process, or null when it has none. */
  pidOf(unit: string): number | null;
  start(unit: string): Promise<void>;
  startAll(): Promise<void>;
  stopAll(): Promise<void>;
  /** The next `verb unit` call fails with exit 1. */
  failNext(verb: string, unit: string): void;
  /** Every `verb unit` call sleeps this long first. */
  hang(verb: string, unit: string, seconds: number): void;
  cleanup(): Promise<void>;
}

export function createFakeServices(units: Record<string, string>): FakeServices {
  const dir = mkdtempSync(join(tmpdir(), 'sb-fake-systemctl-'));
  for (const sub of ['units', 'run', 'logs', 'fail', 'hang', 'bin']) mkdirSync(join(dir, sub));
  for (const [unit, cmd] of Object.entries(units)) writeFileSync(join(dir, 'units', `${unit}.cmd`), `${cmd}\n`);
  symlinkSync(FAKE_SYSTEMCTL, join(dir, 'bin', 'systemctl'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${join(dir, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    FAKE_SYSTEMCTL_DIR: dir,
    SCHEMA_BACKUP_SYSTEMCTL: FAKE_SYSTEMCTL,
  };
  const callsFile = join(dir, 'calls.log');
  const fake = (...args: string[]) => runAllowingFailure(FAKE_SYSTEMCTL, args, { env, timeoutMs: 20000 });
  const pidOf = (unit: string): number | null => {
    try {
      const pid = Number(readFileSync(join(dir, 'run', `${unit}.pid`), 'utf8').trim());
      return Number.isInteger(pid) && pid > 0 ? pid : null;
    } catch {
      return null;
    }
  };
  const stopAll = async (): Promise<void> => {
    for (const unit of Object.keys(units)) await fake('stop', unit);
  };

  return {
    dir,
    env,
    async calls() {
      let text = '';
      try {
        text = readFileSync(callsFile, 'utf8');
      } catch {
        return [];
      }
      return text
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [t, verb, unit] = line.split(' ');
          return { t: Number(t), verb: verb as string, unit: unit as string };
        });
    },
    clearCalls() {
      rmSync(callsFile, { force: true });
    },
    async isRunning(unit) {
      // Read the state as the fake does, without leaving a trace in calls.log.
      const pid = pidOf(unit);
      if (pid === null) return false;
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
        return state !== 'Z' && state !== 'X';
      } catch {
        return false;
      }
    },
    pidOf,
    async start(unit) {
      await run(FAKE_SYSTEMCTL, ['start', unit], { env, timeoutMs: 20000 });
    },
    async startAll() {
      for (const unit of Object.keys(units)) await run(FAKE_SYSTEMCTL, ['start', unit], { env, timeoutMs: 20000 });
    },
    stopAll,
    failNext(verb, unit) {
      writeFileSync(join(dir, 'fail', `${verb}-${unit}`), 'once\n');
    },
    hang(verb, unit, seconds) {
      writeFileSync(join(dir, 'hang', `${verb}-${unit}`), `${seconds}\n`);
    },
    async cleanup() {
      // Hangs must not slow the teardown down.
      for (const f of readdirSync(join(dir, 'hang'))) rmSync(join(dir, 'hang', f), { force: true });
      for (const f of readdirSync(join(dir, 'fail'))) rmSync(join(dir, 'fail', f), { force: true });
      await stopAll();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
