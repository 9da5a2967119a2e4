/**
 * Rows of one table from the run's snapshot into a sink. The runner calls
 * only this, so how a table is read (one connection, or key ranges over
 * several connections sharing the snapshot) is decided here.
 */
import type { DbTableDetail } from '../db/schema';
import type { Snapshot } from '../db/snapshot';
import type { RowSink } from '../store/file-sink';
import { dumpRows } from './rows';

export async function dumpTableRows(snapshot: Snapshot, table: DbTableDetail, sink: RowSink): Promise<number> {
  return (await dumpRows(snapshot.db, table, sink)).rows;
}
