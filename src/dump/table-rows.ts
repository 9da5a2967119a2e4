/**
 * Rows of one table from the run's snapshot into a sink. The runner calls
 * only this, so how a table is read is decided here: one connection, or key
 * ranges spread over the snapshot's reader connections (which share one
 * snapshot) and written in key order, so both give the same bytes.
 */
import type { Db } from '../db/connect';
import type { DbTableDetail } from '../db/schema';
import type { Snapshot } from '../db/snapshot';
import type { RowSink } from '../store/file-sink';
import { quoteIdent } from '../db/quote';
import { parallelReadAhead, planKeyRanges, rangeCondition, rangeKey, type KeyRange } from './ranges';
import { BlockChannel, ReadAhead, maxAllowedPacket, readTupleBlocks, writeStatements, type RowsResult } from './rows';
import { statementLimit } from './tuples';

/** Key ranges for this table in this snapshot: one open range unless splitting pays. */
async function keyRanges(db: Db, table: DbTableDetail, readers: number): Promise<{ key: string | null; ranges: KeyRange[] }> {
  const key = rangeKey(table);
  if (key === null || readers < 2) return { key, ranges: [{ from: null, to: null }] };
  // The statistics' estimate is enough to decide; MIN/MAX come from the snapshot through the index.
  const [[estimate, avgRowBytes]] = await db.queryArrays(
    'SELECT TABLE_ROWS, AVG_ROW_LENGTH FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
    [db.database, table.name],
  );
  const [[min, max]] = await db.queryArrays(`SELECT MIN(${quoteIdent(key)}), MAX(${quoteIdent(key)}) FROM ${quoteIdent(table.name)}`);
  if (min === null || max === null) return { key, ranges: [{ from: null, to: null }] };
  return { key, ranges: planKeyRanges(BigInt(min), BigInt(max), Number(estimate ?? 0), readers, Number(avgRowBytes ?? 0)) };
}

/** max_allowed_packet per snapshot: one query per run, not one per table (a site has dozens of small tables). */
const packetLimits = new WeakMap<Snapshot, number>();

async function snapshotPacket(snapshot: Snapshot): Promise<number> {
  let packet = packetLimits.get(snapshot);
  if (packet === undefined) packetLimits.set(snapshot, (packet = await maxAllowedPacket(snapshot.db)));
  return packet;
}

/** The longest INSERT statement this snapshot's files get (recorded in the manifest, so verify cuts rows alike). */
export async function snapshotStatementBytes(snapshot: Snapshot): Promise<number> {
  return statementLimit(await snapshotPacket(snapshot));
}

/** `columnExpressions`: see RowSelectOptions (values saved other than the snapshot's). */
export async function dumpTableRows(snapshot: Snapshot, table: DbTableDetail, sink: RowSink, columnExpressions?: ReadonlyMap<string, string>): Promise<RowsResult> {
  const readers = snapshot.readers.length ? snapshot.readers : [snapshot.db];
  const maxTupleBytes = await snapshotPacket(snapshot);
  const { key, ranges } = await keyRanges(snapshot.db, table, readers.length);
  // Ranges go round the connections; each connection reads its own in turn, the next queued as the one before
  // ends (see readTupleBlocks), pausing when far ahead.
  const readAheads = readers.map((db) => new ReadAhead(db, ranges.length > 1 ? parallelReadAhead(readers.length).blocks : undefined));
  const channels = ranges.map((_, i) => new BlockChannel(readAheads[i % readers.length]));
  const read = (i: number): void => {
    if (i >= ranges.length) return;
    const where = key === null ? undefined : rangeCondition(key, ranges[i]);
    try {
      readTupleBlocks(readers[i % readers.length], { table, where, columnExpressions, maxTupleBytes }, channels[i], { onEnd: () => read(i + readers.length) });
    } catch (err) {
      // Thrown from inside mysql2's end of the range before (onEnd): the writer must hear of it, not wait.
      channels[i].fail(err);
    }
  };
  for (let i = 0; i < readers.length; i++) read(i);
  return writeStatements(table, channels, sink, statementLimit(maxTupleBytes));
}
