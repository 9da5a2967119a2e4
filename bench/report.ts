/** The benchmark's printed table (pure): every case, ours against each peer of the same run, the goal and its verdict. */

export type Unit = 'ms' | 'files' | 'MB';

export interface PeerCell {
  /** Column name (see PEER in peers.ts). */
  name: string;
  /** Median wall time, ms (or the row's unit). */
  value: number | null;
  rssMb?: number | null;
}

export interface Goal {
  /** What the issue asks, e.g. "<=1.0x mariadb-dump, mydumper -t 1 (moonshot 0.8x); RSS<=150MB". */
  text: string;
  /** Peers whose ratio the goal bounds. */
  against: string[];
  limit: number;
  moonshot?: number;
  rssLimitMb?: number;
}

export interface Row {
  /** Rows of a section share one table (and its peer columns); sections print in order of first appearance. */
  section: string;
  case: string;
  unit?: Unit;
  ours: number | null;
  oursRssMb: number | null;
  peers: PeerCell[];
  goal?: Goal;
  note?: string;
}

export type Verdict = 'PASS' | 'PASS (moonshot)' | 'MISS' | 'n/a';

export const ratio = (a: number | null | undefined, b: number | null | undefined): number | null =>
  a === null || a === undefined || b === null || b === undefined || b === 0 ? null : a / b;

export function ratios(row: Row): Map<string, number | null> {
  return new Map(row.peers.map((p) => [p.name, ratio(row.ours, p.value)]));
}

/** PASS when every bounded ratio is at most the limit (and RSS within its bound); n/a when a ratio is missing. */
export function verdict(row: Row): Verdict | null {
  const goal = row.goal;
  if (!goal) return null;
  const all = ratios(row);
  const bounded = goal.against.map((name) => all.get(name) ?? null);
  if (bounded.some((r) => r === null) || (goal.rssLimitMb !== undefined && row.oursRssMb === null)) return 'n/a';
  const rs = bounded as number[];
  const rssOk = goal.rssLimitMb === undefined || (row.oursRssMb as number) <= goal.rssLimitMb;
  if (!rssOk || rs.some((r) => r > goal.limit)) return 'MISS';
  return goal.moonshot !== undefined && rs.every((r) => r <= (goal.moonshot as number)) ? 'PASS (moonshot)' : 'PASS';
}

export const fmt = (v: number | null | undefined, unit: Unit = 'ms'): string => {
  if (v === null || v === undefined) return '-';
  if (unit === 'ms') return `${(v / 1000).toFixed(2)} s`;
  if (unit === 'MB') return `${v.toFixed(0)} MB`;
  return String(v);
};

const rss = (mb: number | null | undefined) => (mb === null || mb === undefined ? '' : `, ${mb.toFixed(0)} MB`);

/** One markdown table per section (pastes into README as is), each under its name. */
export function renderReport(rows: Row[]): string {
  const sections: string[] = [];
  for (const r of rows) if (!sections.includes(r.section)) sections.push(r.section);
  return sections.map((s) => `### ${s}\n\n${renderTable(rows.filter((r) => r.section === s))}`).join('\n');
}

/** A markdown table: one column per peer, in the order they first appear. */
export function renderTable(rows: Row[]): string {
  const peerNames: string[] = [];
  for (const r of rows) for (const p of r.peers) if (!peerNames.includes(p.name)) peerNames.push(p.name);
  const header = ['case', 'ours (peak RSS)', ...peerNames.map((n) => `${n} (ours/peer, RSS)`), 'goal', 'verdict', 'note'];
  const cells = rows.map((r) => {
    const rs = ratios(r);
    return [
      r.case,
      `${fmt(r.ours, r.unit)}${r.unit === 'MB' ? '' : rss(r.oursRssMb)}`,
      ...peerNames.map((n) => {
        const p = r.peers.find((x) => x.name === n);
        if (!p) return '';
        const rt = rs.get(n);
        return `${fmt(p.value, r.unit)}${rt === null || rt === undefined ? '' : ` (${rt.toFixed(2)}x${rss(p.rssMb)})`}`;
      }),
      r.goal?.text ?? '',
      verdict(r) ?? '',
      r.note ?? '',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => `| ${c.map((v, i) => v.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n') + '\n';
}
