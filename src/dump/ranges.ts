/**
 * Key ranges for reading one table over several connections (pure). Only a
 * single-column integer primary key qualifies: ranges are then disjoint,
 * cover every value, and in key order their rows are exactly the table in
 * ORDER BY key. The first and last ranges are open, so no row can fall outside.
 */
import { quoteIdent } from '../db/quote';
import type { DbTableDetail } from '../db/schema';

const INTEGER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint']);

/** Below this many (estimated) rows one connection is as fast: a range costs a query. */
export const PARALLEL_MIN_ROWS = 50_000;
/** Rows per range at most; fewer where rows are wide (see rowsPerRange). */
export const ROWS_PER_RANGE = 25_000;
const MIN_ROWS_PER_RANGE = 1_000;
/**
 * Bytes of a range, from the table's average row length: a range must fit in
 * a connection's read-ahead (READ_AHEAD_BLOCKS, src/dump/rows.ts), or the reader of
 * the next range stops until the writer reaches it, and the reads are serial
 * again (25,000 rows of the mixed shape are 6 MB).
 */
const RANGE_BYTES = 1 << 20;
export const MAX_RANGES = 2_000;

/** Rows per range for rows of `avgRowBytes` (0: unknown). */
export function rowsPerRange(avgRowBytes: number): number {
  if (!(avgRowBytes > 0)) return ROWS_PER_RANGE;
  return Math.max(MIN_ROWS_PER_RANGE, Math.min(ROWS_PER_RANGE, Math.floor(RANGE_BYTES / avgRowBytes)));
}

export interface KeyRange {
  /** Inclusive lower bound, or null for none. */
  from: bigint | null;
  /** Exclusive upper bound, or null for none. */
  to: bigint | null;
}

/** The key column when the table can be split by key ranges, else null. */
export function rangeKey(table: DbTableDetail): string | null {
  if (table.primaryKey.length !== 1) return null;
  const column = table.columns.find((c) => c.name === table.primaryKey[0]);
  return column && INTEGER_TYPES.has(column.dataType) ? column.name : null;
}

/** Splits [min, max] into about `estimatedRows / rowsPerRange(avgRowBytes)` equal-width ranges; one open range when not worth it. */
export function planKeyRanges(min: bigint, max: bigint, estimatedRows: number, readers: number, avgRowBytes = 0): KeyRange[] {
  const whole: KeyRange[] = [{ from: null, to: null }];
  if (readers < 2 || estimatedRows < PARALLEL_MIN_ROWS || max <= min) return whole;
  const span = max - min + 1n;
  let count = BigInt(Math.min(MAX_RANGES, Math.max(readers, Math.ceil(estimatedRows / rowsPerRange(avgRowBytes)))));
  if (count > span) count = span;
  const width = (span + count - 1n) / count;
  const ranges: KeyRange[] = [];
  for (let lo = min; lo <= max; lo += width) ranges.push({ from: ranges.length === 0 ? null : lo, to: null });
  for (let i = 0; i < ranges.length - 1; i++) ranges[i].to = ranges[i + 1].from;
  return ranges;
}

export function rangeCondition(column: string, range: KeyRange): string | undefined {
  const c = quoteIdent(column);
  const parts: string[] = [];
  if (range.from !== null) parts.push(`${c} >= ${range.from}`);
  if (range.to !== null) parts.push(`${c} < ${range.to}`);
  return parts.length ? parts.join(' AND ') : undefined;
}
