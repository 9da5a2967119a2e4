/** The benchmark's printed table and JSON (pure). */

export interface Row {
  case: string;
  /** Median wall time of ours, ms (or a count for non-time rows, see `unit`). */
  ours: number | null;
  stock: number | null;
  /** ours / stock. */
  ratio: number | null;
  peakRssMb: number | null;
  stockPeakRssMb?: number | null;
  unit?: 'ms' | 'files' | 'MB';
  note?: string;
  target?: string;
  /** Whether the target is met (undefined: no target). */
  pass?: boolean;
}

const fmt = (v: number | null | undefined, unit: Row['unit'] = 'ms'): string => {
  if (v === null || v === undefined) return '-';
  if (unit === 'ms') return `${(v / 1000).toFixed(2)} s`;
  if (unit === 'MB') return `${v.toFixed(0)} MB`;
  return String(v);
};

export function renderTable(rows: Row[]): string {
  const header = ['case', 'ours', 'stock', 'ratio', 'peak RSS (ours/stock)', 'target', 'note'];
  const cells = rows.map((r) => [
    r.case,
    fmt(r.ours, r.unit),
    fmt(r.stock, r.unit),
    r.ratio === null ? '-' : `${r.ratio.toFixed(2)}x`,
    `${fmt(r.peakRssMb, 'MB')} / ${fmt(r.stockPeakRssMb, 'MB')}`,
    r.target ? `${r.target} ${r.pass === undefined ? '' : r.pass ? 'PASS' : 'MISS'}`.trim() : '',
    r.note ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((v, i) => v.padEnd(widths[i])).join(' | ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...cells.map(line)].join('\n') + '\n';
}
