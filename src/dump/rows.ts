/**
 * The hot path: stream one table's rows, already rendered as SQL tuples by the
 * server, into multi-row INSERT statements, one row per line. Memory stays
 * flat: the connection is paused while the sink flushes (backpressure).
 */
import type { Db } from '../db/connect';
import { toDatabaseError } from '../db/connect';
import type { DbTableDetail } from '../db/schema';
import { DatabaseError } from '../errors';
import type { RowSink } from '../store/file-sink';
import { insertPrefix, rowSelectSql, type RowSelectOptions } from './literals';

/** A statement stays well under max_allowed_packet (16 MiB by default) and the client's buffers. */
const STATEMENT_BYTES = 1 << 20;
const ROW_SEPARATOR = Buffer.from(',\n');
const STATEMENT_END = Buffer.from(';\n');

// mysql2 hands the tuple over as raw bytes: no decoding to a JS string and back.
const rawBuffer = (field: { buffer(): Buffer | null }): Buffer | null => field.buffer();

export interface RowsResult {
  rows: number;
}

/** Streams rows into the sink as INSERT statements. `where` restricts to a key range. */
export function dumpRows(db: Db, table: DbTableDetail, sink: RowSink, options: RowSelectOptions = {}): Promise<RowsResult> {
  const prefix = Buffer.from(insertPrefix(table), 'utf8');
  const sql = rowSelectSql(table, options);
  let rows = 0;
  let statementBytes = 0;
  return new Promise<RowsResult>((resolve, reject) => {
    let failed = false;
    let flushing: Promise<void> = Promise.resolve();
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      reject(err);
    };
    const query = db.raw.query({ sql, rowsAsArray: true, typeCast: rawBuffer });
    query.on('result', (row: unknown) => {
      if (failed) return;
      const tuple = (row as (Buffer | null)[])[0];
      if (tuple === null) {
        // CONCAT returns NULL when the rendered row exceeds max_allowed_packet.
        fail(new DatabaseError(`table ${table.name}: a row is larger than the server's max_allowed_packet once rendered; raise max_allowed_packet (SET GLOBAL max_allowed_packet=1073741824) and run again`));
        db.destroy();
        return;
      }
      let full: boolean;
      if (statementBytes === 0) {
        sink.push(prefix);
      } else {
        sink.push(ROW_SEPARATOR);
      }
      full = sink.push(tuple);
      statementBytes += tuple.length + 2;
      rows++;
      if (statementBytes >= STATEMENT_BYTES) {
        full = sink.push(STATEMENT_END) || full;
        statementBytes = 0;
      }
      if (full) {
        db.raw.pause();
        flushing = flushing.then(() => sink.flush()).then(() => db.raw.resume(), fail);
      }
    });
    query.on('error', (err) => fail(toDatabaseError(err, `reading rows of table ${table.name}`)));
    query.on('end', () => {
      if (failed) return;
      if (statementBytes > 0) sink.push(STATEMENT_END);
      flushing.then(() => resolve({ rows }), fail);
    });
  });
}
