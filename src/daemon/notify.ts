/**
 * sd_notify messages to systemd (Type=notify, WatchdogSec=).
 *
 * READY=1 and STATUS= go through the systemd-notify package; it cannot send
 * WATCHDOG=1 or STOPPING=1, so those run the systemd-notify binary through
 * src/proc/run.ts. Either way the datagram comes from a child process, which
 * is why the unit needs NotifyAccess=all.
 *
 * A notification is never worth a crash: failures are logged as warnings.
 * Sends are serialised and coalesced (at most one of each kind waiting, the
 * newest status text wins), so a slow or hung binary cannot pile up children.
 */
import notifyPackage from 'systemd-notify';
import type { Logger } from '../log';
import { errorMessage } from '../errors';
import { run } from '../proc/run';

export interface Notifier {
  ready(): void;
  status(text: string): void;
  watchdog(): void;
  stopping(): void;
  /** Resolves once everything asked for so far has been sent (or has failed). */
  flush(): Promise<void>;
}

export interface NotifierOptions {
  /** The binary for WATCHDOG=1 / STOPPING=1 (the package always uses `systemd-notify` from PATH). */
  binary?: string;
  /** A send that takes longer is abandoned (and, for the binary, killed). */
  timeoutMs?: number;
}

const DEFAULT_BINARY = '/usr/bin/systemd-notify';
const DEFAULT_TIMEOUT_MS = 10_000;

/** Does nothing: outside systemd (no NOTIFY_SOCKET) nothing is spawned. */
export function nullNotifier(): Notifier {
  return {
    ready: () => undefined,
    status: () => undefined,
    watchdog: () => undefined,
    stopping: () => undefined,
    flush: () => Promise.resolve(),
  };
}

/**
 * `env` decides whether we run under systemd. The package spawns with
 * process.env, so in production pass process.env (the default).
 */
export function createNotifier(env: NodeJS.ProcessEnv = process.env, log: Logger, options: NotifierOptions = {}): Notifier {
  if (!env.NOTIFY_SOCKET) return nullNotifier();
  const binary = options.binary ?? DEFAULT_BINARY;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  const pending = { ready: false, status: null as string | null, watchdog: false, stopping: false };
  let pump: Promise<void> | null = null;

  const viaPackage = (opts: { ready?: boolean; status?: string }): Promise<unknown> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    return Promise.race([notifyPackage(opts), timeout]).finally(() => clearTimeout(timer));
  };

  const viaBinary = (assignment: string): Promise<unknown> => run(binary, [assignment], { env, timeoutMs });

  /** Takes the next message to send: READY before any STATUS, STOPPING after the last one. */
  const next = (): { message: string; send: () => Promise<unknown> } | null => {
    if (pending.ready) {
      // The package sends `STATUS=undefined` for a present-but-undefined key, so add it only when set.
      const opts = pending.status === null ? { ready: true } : { ready: true, status: pending.status };
      pending.ready = false;
      pending.status = null;
      return { message: 'READY=1', send: () => viaPackage(opts) };
    }
    if (pending.watchdog) {
      pending.watchdog = false;
      return { message: 'WATCHDOG=1', send: () => viaBinary('WATCHDOG=1') };
    }
    if (pending.status !== null) {
      const status = pending.status;
      pending.status = null;
      return { message: 'STATUS', send: () => viaPackage({ status }) };
    }
    // Last: the final status (why it is stopping) reaches systemd before STOPPING=1.
    if (pending.stopping) {
      pending.stopping = false;
      return { message: 'STOPPING=1', send: () => viaBinary('STOPPING=1') };
    }
    return null;
  };

  const drain = async (): Promise<void> => {
    for (let item = next(); item; item = next()) {
      try {
        await item.send();
      } catch (err) {
        // The package rejects with a bare string (stderr), run() with a CommandError.
        log.warn('systemd notification failed', { notification: item.message, err: errorMessage(err) });
      }
    }
  };

  const kick = (): void => {
    if (pump) return; // the running pump will pick the new request up
    pump = drain().finally(() => {
      pump = null;
    });
  };

  return {
    ready() {
      pending.ready = true;
      kick();
    },
    status(text) {
      pending.status = text;
      kick();
    },
    watchdog() {
      pending.watchdog = true;
      kick();
    },
    stopping() {
      pending.stopping = true;
      kick();
    },
    async flush() {
      while (pump) await pump;
    },
  };
}

/**
 * How often to send WATCHDOG=1: half of WATCHDOG_USEC, as sd_watchdog_enabled(3)
 * advises. null when systemd expects no pings, or expects them from another
 * process (WATCHDOG_PID set and not ours).
 */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv = process.env, pid: number = process.pid): number | null {
  const usec = env.WATCHDOG_USEC;
  if (!usec || !/^\d+$/.test(usec)) return null;
  if (env.WATCHDOG_PID && env.WATCHDOG_PID !== String(pid)) return null;
  const ms = Math.floor(Number(usec) / 2000);
  return ms > 0 ? ms : null;
}
