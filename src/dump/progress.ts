/**
 * How the row dump is getting on, for the daemon's watchdog: how many row
 * reads are in progress, and a counter that moves with every block of rows
 * taken from the server, every flush to disk, and every read started or
 * ended. A read that stops moving (a server that no longer answers, a disk
 * that no longer takes writes) leaves the counter still; the watchdog then
 * stops pinging and systemd restarts the daemon.
 *
 * Process-wide, because the run lock allows one run per process and the
 * watchdog only asks whether anything moved; the cost is one increment per
 * block (thousands of rows), not per row.
 */
export interface DumpProgress {
  /** Row reads in progress. */
  readonly reading: number;
  /** Moves with every block, flush, start and end; only compared, never read as an amount. */
  readonly moves: number;
}

let reading = 0;
let moves = 0;

export function dumpProgress(): DumpProgress {
  return { reading, moves };
}

export const progress = {
  readStarted(): void {
    reading++;
    moves++;
  },
  moved(): void {
    moves++;
  },
  readEnded(): void {
    reading--;
    moves++;
  },
};
