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
  /** The table being read (or loaded), and what of it is done; null between tables. */
  readonly table: string | null;
  readonly rows: number;
  readonly bytes: number;
  /** Rows and bytes done in the whole run so far (finished tables and the current one). */
  readonly totalRows: number;
  readonly totalBytes: number;
  /** A restore or export: bytes of backup files read so far, of loadTotal (0: none planned), and what it is. */
  readonly loadDone: number;
  readonly loadTotal: number;
  readonly loadLabel: string;
}

let reading = 0;
let moves = 0;
let table: string | null = null;
let rows = 0;
let bytes = 0;
let doneRows = 0;
let doneBytes = 0;
let loadDone = 0;
let loadTotal = 0;
let loadLabel = 'restoring';

export function dumpProgress(): DumpProgress {
  return { reading, moves, table, rows, bytes, totalRows: doneRows + rows, totalBytes: doneBytes + bytes, loadDone, loadTotal, loadLabel };
}

/** Per table, the server's estimate of its rows (information_schema.TABLES.TABLE_ROWS), for the percentage shown. */
let estimates: ReadonlyMap<string, number | null> = new Map();

export function estimatedRows(table: string): number | null {
  return estimates.get(table) ?? null;
}

export interface TableDone {
  table: string;
  rows: number;
  bytes: number;
  ms: number;
}

let startedAt = 0;

const doneListeners = new Set<(done: TableDone) => void>();

/** Calls `listener` as each table's read ends (once per table, not per row); returns the unsubscribe. */
export function onTableDone(listener: (done: TableDone) => void): () => void {
  doneListeners.add(listener);
  return () => doneListeners.delete(listener);
}

export const progress = {
  /** A new run: its estimates, and every count back to zero. */
  planned(next: ReadonlyMap<string, number | null>): void {
    estimates = next;
    table = null;
    rows = bytes = doneRows = doneBytes = 0;
  },
  readStarted(name?: string): void {
    reading++;
    moves++;
    if (name !== undefined) {
      table = name;
      rows = bytes = 0;
      startedAt = Date.now();
    }
  },
  /** A restore (or export: `label`) that will read `total` bytes of backup files. */
  loadPlanned(total: number, label = 'restoring'): void {
    loadTotal = total;
    loadDone = 0;
    loadLabel = label;
  },
  /** Per chunk read (1 MiB), never per row. */
  loaded(addBytes: number): void {
    loadDone += addBytes;
    moves++;
  },
  /** Per block (thousands of rows), never per row. */
  moved(addRows = 0, addBytes = 0): void {
    moves++;
    rows += addRows;
    bytes += addBytes;
  },
  readEnded(): void {
    reading--;
    moves++;
    doneRows += rows;
    doneBytes += bytes;
    const done = table === null ? null : { table, rows, bytes, ms: Date.now() - startedAt };
    rows = bytes = 0;
    table = null;
    if (done) for (const listener of doneListeners) listener(done);
  },
};
