/**
 * Key ranges for reading one table over several connections (pure). Only a
 * single-column integer primary key qualifies: ranges are then disjoint,
 * cover every value, and in key order their rows are exactly the table in
 * ORDER BY key. The first and last ranges are open, so no row can fall outside.
 */
import { quoteIdent } from '../db/quote';
import type { DbTableDetail } from '../db/schema';
import { BLOCK_BYTES } from './tuples';

const INTEGER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint']);

/** Below this many (estimated) rows one connection is as fast: a range costs a query. */
export const PARALLEL_MIN_ROWS = 50_000;
/** Rows per range when the table's row length is unknown. */
export const ROWS_PER_RANGE = 25_000;
const MIN_ROWS_PER_RANGE = 1_000;
/** Rows per range at most, whatever the row length says (a very short estimate is not trusted further). */
const MAX_ROWS_PER_RANGE = 250_000;
/** Blocks a connection reads ahead of the writer when it reads a table alone (src/dump/rows.ts ReadAhead). */
export const READ_AHEAD_BLOCKS = 4;
/** Blocks the connections read ahead together when a table is read over several (each holds READ_AHEAD_BLOCKS at least). */
const PARALLEL_READ_AHEAD_BLOCKS = 24;
/** A connection's read-ahead holds this many of its ranges (see parallelReadAhead). */
const RANGES_PER_READ_AHEAD = 4;
export const MAX_RANGES = 2_000;

/**
 * How far each of `readers` connections reads ahead of the writer, in blocks, and how large its ranges are.
 * The writer takes ranges in key order, so the connection reading the next ranges goes on only as far as its
 * read-ahead: with a range as large as the read-ahead it stopped until the writer reached it, and the reads were
 * serial again. Each connection holds four of its ranges: with two readers over a 1M-row table (250 MB), ranges
 * of 4 MB in 16 blocks took 1.12-1.19 s against 1.26-1.53 s for 1 MB ranges in 4 blocks (interleaved runs,
 * medians of 5). Sixteen blocks each took the peak RSS to 152 MB over TCP; twelve (3 MB ranges) read as fast
 * with 129-138 MB. The budget is shared out, so up to 6 readers hold no more than two do.
 */
export function parallelReadAhead(readers: number): { blocks: number; rangeBytes: number } {
  const blocks = Math.max(READ_AHEAD_BLOCKS, Math.floor(PARALLEL_READ_AHEAD_BLOCKS / Math.max(1, readers)));
  return { blocks, rangeBytes: Math.floor((blocks * BLOCK_BYTES) / RANGES_PER_READ_AHEAD) };
}

/** Rows per range for rows of `avgRowBytes` (0: unknown) read by `readers` connections. */
export function rowsPerRange(avgRowBytes: number, readers: number): number {
  if (!(avgRowBytes > 0)) return ROWS_PER_RANGE;
  const { rangeBytes } = parallelReadAhead(readers);
  return Math.max(MIN_ROWS_PER_RANGE, Math.min(MAX_ROWS_PER_RANGE, Math.floor(rangeBytes / avgRowBytes)));
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

/** Splits [min, max] into about `estimatedRows / rowsPerRange(avgRowBytes, readers)` equal-width ranges; one open range when not worth it. */
export function planKeyRanges(min: bigint, max: bigint, estimatedRows: number, readers: number, avgRowBytes = 0): KeyRange[] {
  const whole: KeyRange[] = [{ from: null, to: null }];
  if (readers < 2 || estimatedRows < PARALLEL_MIN_ROWS || max <= min) return whole;
  const span = max - min + 1n;
  let count = BigInt(Math.min(MAX_RANGES, Math.max(readers, Math.ceil(estimatedRows / rowsPerRange(avgRowBytes, readers)))));
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
