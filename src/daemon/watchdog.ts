/**
 * When to send WATCHDOG=1. A timer alone would keep pinging through a dump
 * that waits forever (a server that stopped answering, a disk that stopped
 * taking writes), and systemd would never step in. So while rows are being
 * read, a ping goes out only if the dump moved since the last one; idle
 * between runs, and in the steps of a run that read no rows (their waits have
 * their own timeouts: systemctl_timeout, pause_interval, git), it always goes.
 * A stall therefore gets between one and two ping intervals (WatchdogSec/2
 * each) before systemd restarts the daemon.
 */
import type { DumpProgress } from '../dump/progress';

export interface WatchdogVerdict {
  ping: boolean;
  /** Not pinging because a row read has not moved since the last ping. */
  stalled: boolean;
}

export class ProgressWatchdog {
  /** `moves` at the last ping; null before the first. */
  private lastPinged: number | null = null;

  constructor(private readonly progress: () => DumpProgress) {}

  /** Called at every watchdog interval; `running`: a backup run is in progress. */
  check(running: boolean): WatchdogVerdict {
    const p = this.progress();
    const ping = !running || p.reading === 0 || p.moves !== this.lastPinged;
    if (ping) this.lastPinged = p.moves;
    return { ping, stalled: !ping };
  }
}
