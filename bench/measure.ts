/**
 * Timing a process from outside: wall time around the call, peak RSS and CPU
 * from GNU time (`/usr/bin/time -v`, Debian package `time`), never from inside
 * the measured process. Every process goes through src/proc/run.ts.
 */
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run, type RunOptions } from '../src/proc/run';

const GNU_TIME = '/usr/bin/time';

export interface Sample {
  wallMs: number;
  /** Peak resident set size in KiB (null without GNU time). */
  peakRssKb: number | null;
  cpuMs: number | null;
  stdout: string;
}

export function haveGnuTime(): boolean {
  return existsSync(GNU_TIME);
}

function field(report: string, name: string): number | null {
  const m = new RegExp(`^\\s*${name}: ([0-9.]+)$`, 'm').exec(report);
  return m ? Number(m[1]) : null;
}

/** Runs one command to completion and measures it. `scratch` is a directory for GNU time's report. */
export async function measure(command: string, args: string[], scratch: string, options: RunOptions = {}): Promise<Sample> {
  const report = join(scratch, `time-${process.hrtime.bigint()}.txt`);
  const [cmd, argv] = haveGnuTime() ? [GNU_TIME, ['-v', '-o', report, command, ...args]] : [command, args];
  const t0 = process.hrtime.bigint();
  const result = await run(cmd, argv, { timeoutMs: 30 * 60_000, ...options });
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  if (!haveGnuTime()) return { wallMs, peakRssKb: null, cpuMs: null, stdout: result.stdout };
  const text = await readFile(report, 'utf8');
  await rm(report, { force: true });
  const user = field(text, 'User time \\(seconds\\)') ?? 0;
  const sys = field(text, 'System time \\(seconds\\)') ?? 0;
  return { wallMs, peakRssKb: field(text, 'Maximum resident set size \\(kbytes\\)'), cpuMs: Math.round((user + sys) * 1000), stdout: result.stdout };
}

/** Runs `command args > /dev/null` (for clients whose output is not the point). */
export function measureToNull(command: string, args: string[], scratch: string): Promise<Sample> {
  return measure('/bin/sh', ['-c', 'exec "$@" > /dev/null', 'sh', command, ...args], scratch);
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export interface Summary {
  wallMs: number;
  peakRssKb: number | null;
  cpuMs: number | null;
  runsMs: number[];
}

/** Median wall time and CPU, and the highest peak RSS of the runs. */
export function summarize(samples: Sample[]): Summary {
  const rss = samples.map((s) => s.peakRssKb).filter((v): v is number => v !== null);
  const cpu = samples.map((s) => s.cpuMs).filter((v): v is number => v !== null);
  return {
    wallMs: median(samples.map((s) => s.wallMs)),
    peakRssKb: rss.length ? Math.max(...rss) : null,
    cpuMs: cpu.length ? median(cpu) : null,
    runsMs: samples.map((s) => Math.round(s.wallMs)),
  };
}
