/**
 * What a person watching a long run sees. It reads the dump's progress
 * counters (src/dump/progress.ts) on a timer, so the row loop pays nothing for
 * it. On a terminal: one updating line (current table, rows against the
 * server's estimate, bytes, rate, time left) drawn by cli-progress. Without a
 * terminal (daemon, journald, pipes): an info line per large table when it
 * is done, and one every 30 s while a table is being read.
 */
import { SingleBar } from 'cli-progress';
import { dumpProgress, estimatedRows, onTableDone, type DumpProgress } from '../dump/progress';
import type { Logger } from '../log';

/** A table is "large" for the log lines from this many rows or bytes. */
const LARGE_ROWS = 100_000;
const LARGE_BYTES = 64 << 20;
const LOG_EVERY_MS = 30_000;
const DRAW_EVERY_MS = 250;

export interface ProgressView {
  stop(): void;
}

export interface ProgressViewOptions {
  log: Logger;
  /** Where the line is drawn; a terminal gets the line, anything else the log lines. */
  stream: NodeJS.WriteStream | NodeJS.WritableStream;
  now?: () => number;
}

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

/** Starts watching; stop() ends it (and clears the line). */
export function startProgressView(options: ProgressViewOptions): ProgressView {
  const tty = (options.stream as NodeJS.WriteStream).isTTY === true;
  return tty ? terminalView(options.stream as NodeJS.WriteStream) : logView(options.log, options.now ?? Date.now);
}

function estimateOf(table: string | null): number | null {
  if (table === null) return null;
  return estimatedRows(table);
}

function terminalView(stream: NodeJS.WriteStream): ProgressView {
  const bar = new SingleBar({
    stream,
    format: '{table} [{bar}] {percentage}% | {done} | {rate}/s | ETA {eta_formatted}',
    hideCursor: true,
    clearOnComplete: true,
    barsize: 20,
    etaBuffer: 20,
    fps: 4,
  });
  let started = false;
  let table: string | null = null;
  let since = Date.now();
  const draw = () => {
    const p = dumpProgress();
    if (p.loadTotal > 0) return drawLoad(p);
    if (p.table === null) return;
    if (p.table !== table) {
      table = p.table;
      since = Date.now();
      const total = Math.max(estimateOf(p.table) ?? 0, p.rows, 1);
      if (!started) bar.start(total, p.rows, payload(p, 0));
      else bar.setTotal(total);
      started = true;
    }
    const seconds = Math.max((Date.now() - since) / 1000, 0.001);
    // Estimates are estimates: the total grows rather than the bar overflowing.
    if (p.rows > bar.getTotal()) bar.setTotal(p.rows);
    bar.update(p.rows, payload(p, p.bytes / seconds));
  };
  // A restore: one bar over the bytes of all its backup files (tables load in parallel).
  const drawLoad = (p: DumpProgress) => {
    const seconds = Math.max((Date.now() - since) / 1000, 0.001);
    if (!started) {
      since = Date.now();
      bar.start(p.loadTotal, 0, { table: p.loadLabel, done: mib(0), rate: mib(0) });
      started = true;
    }
    bar.update(Math.min(p.loadDone, p.loadTotal), { table: p.loadLabel, done: `${mib(p.loadDone)} of ${mib(p.loadTotal)}`, rate: mib(p.loadDone / seconds) });
  };
  const timer = setInterval(draw, DRAW_EVERY_MS);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      if (started) bar.stop();
    },
  };
}

function payload(p: DumpProgress, bytesPerSecond: number): Record<string, string> {
  const estimate = estimateOf(p.table);
  const rows = `${p.rows.toLocaleString('en-US')}${estimate !== null ? ` of ~${estimate.toLocaleString('en-US')}` : ''} rows`;
  return { table: p.table ?? '', done: `${rows}, ${mib(p.bytes)}`, rate: mib(bytesPerSecond) };
}

function logView(log: Logger, now: () => number): ProgressView {
  let table: string | null = null;
  let tableStart = now();
  let lastLine = now();
  const unsubscribe = onTableDone((done) => {
    if (done.rows < LARGE_ROWS && done.bytes < LARGE_BYTES) return;
    log.info('table done', { table: done.table, rows: done.rows, bytes: done.bytes, seconds: Number((done.ms / 1000).toFixed(1)) });
  });
  const tick = () => {
    const p = dumpProgress();
    if (p.table !== table) {
      table = p.table;
      tableStart = now();
    }
    if (p.loadTotal > 0 && now() - lastLine >= LOG_EVERY_MS) {
      log.info(`${p.loadLabel === 'restoring' ? 'restore' : p.loadLabel} progress`, { bytes: p.loadDone, of: p.loadTotal });
      lastLine = now();
    }
    if (table !== null && now() - lastLine >= LOG_EVERY_MS) {
      const estimate = estimateOf(table);
      const seconds = Math.max((now() - tableStart) / 1000, 0.001);
      const rate = p.rows / seconds;
      const left = estimate !== null && rate > 0 && estimate > p.rows ? Math.round((estimate - p.rows) / rate) : null;
      log.info('progress', { table, rows: p.rows, estimatedRows: estimate, bytes: p.bytes, rowsPerSecond: Math.round(rate), secondsLeft: left });
      lastLine = now();
    }
  };
  const timer = setInterval(tick, 1000);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      unsubscribe();
    },
  };
}
