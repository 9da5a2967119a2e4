/**
 * Reading where the time goes (pure): self time per function from a V8
 * `.cpuprofile` (node --cpu-prof), and a process's CPU time from
 * /proc/PID/stat (the server's share of a run).
 */

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

export interface CpuProfile {
  nodes: { id: number; callFrame: CallFrame }[];
  startTime: number;
  endTime: number;
  samples: number[];
  /** Microseconds since the previous sample (the first: since startTime). */
  timeDeltas: number[];
}

export interface SelfTime {
  /** `name (file:line)`, or V8's own entries: (idle), (program), (garbage collector). */
  name: string;
  ms: number;
  /** Share of the profile's span. */
  share: number;
}

function label(f: CallFrame): string {
  const name = f.functionName || '(anonymous)';
  if (!f.url) return name;
  const file = f.url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules\/)/, '$1').replace(/^.*\/dist\//, '');
  return `${name} (${file}:${f.lineNumber + 1})`;
}

/**
 * Self time by function, largest first. A sample lasts until the next one (as
 * Chrome's DevTools count it); the last lasts until endTime.
 */
export function selfTimes(profile: CpuProfile): { spanMs: number; functions: SelfTime[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, label(n.callFrame)]));
  const totals = new Map<string, number>();
  let t = profile.startTime;
  const stamps = profile.timeDeltas.map((d) => (t += d));
  for (let i = 0; i < profile.samples.length; i++) {
    const us = (i + 1 < stamps.length ? stamps[i + 1] : profile.endTime) - stamps[i];
    const name = byId.get(profile.samples[i]) ?? '(unknown)';
    totals.set(name, (totals.get(name) ?? 0) + Math.max(0, us));
  }
  const spanMs = (profile.endTime - profile.startTime) / 1000;
  const functions = [...totals.entries()]
    .map(([name, us]) => ({ name, ms: us / 1000, share: spanMs > 0 ? us / 1000 / spanMs : 0 }))
    .sort((a, b) => b.ms - a.ms);
  return { spanMs, functions };
}

/** User + system CPU of a process in clock ticks, from the text of /proc/PID/stat. */
export function procCpuTicks(stat: string): number {
  // The command name (field 2) is in parentheses and may hold spaces: count fields after its last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`unexpected /proc stat line: ${stat.slice(0, 80)}`);
  return utime + stime;
}

export function renderSelfTimes(title: string, spanMs: number, functions: SelfTime[], top = 25): string {
  const lines = [`${title}: ${(spanMs / 1000).toFixed(2)} s profiled; top ${Math.min(top, functions.length)} by self time`];
  for (const f of functions.slice(0, top)) lines.push(`  ${f.ms.toFixed(0).padStart(7)} ms ${(f.share * 100).toFixed(1).padStart(5)}%  ${f.name}`);
  return lines.join('\n') + '\n';
}
