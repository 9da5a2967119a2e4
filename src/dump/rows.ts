/**
 * Streams one table's rows (or one key range of them) from a connection as
 * tuple blocks, and writes them as INSERT statements. Memory stays flat: a
 * reader pauses its connection while its consumer is behind (backpressure).
 *
 * The row packets are taken from mysql2 below its row parser: the query's
 * `row` state is replaced by one that hands the raw packet to TupleEncoder.
 * That skips a JavaScript value per field and a typeCast call per field,
 * which was most of the client's time. It relies on mysql2's Query command
 * (state methods returning the next state; Packet buffer/offset/end), so
 * package.json pins mysql2 to the exact release it was written against, each
 * query checks that those internals are there, and a query that ends without
 * its end-of-rows packet fails its table: a changed mysql2 is a clear error,
 * never a dump that waits forever.
 *
 * Where the native encoder is built, the SELECT runs as a prepared statement
 * (binary protocol, see binaryRowSelectSql and binary-wire.ts): the same
 * states, with the field states of mysql2's Execute command wrapped so that
 * its rows come here too.
 */
import type { Db } from '../db/connect';
import { toDatabaseError } from '../db/connect';
import { takeRowPackets, type RowPacketTarget } from '../db/row-packets';
import { DatabaseError } from '../errors';
import { MYSQL2_VERSION, installedMysql2, internalsChanged } from '../db/mysql2-internals';
import type { DbTableDetail } from '../db/schema';
import type { RowSink } from '../store/file-sink';
import { progress } from './progress';
import { resultWire, type ResultField } from './binary-wire';
import { binaryRowSelectSql, columnRead, insertPrefix, rawRowSelectSql, rowColumns, type RowSelectOptions } from './literals';
import { READ_AHEAD_BLOCKS } from './ranges';
import { StatementWriter, TupleEncoder, blockUnits, recycleBlock, statementLimit, type RowBatch, type TupleBlock } from './tuples';

export interface RowsResult {
  rows: number;
  /** INSERT statements written: more than one means db_upgrade reads only the first. */
  statements: number;
}

/**
 * The read-ahead of one connection: it pauses when its blocks not yet written reach the limit (READ_AHEAD_BLOCKS
 * when it reads a table alone; see parallelReadAhead for several). Counted per connection, across every key range
 * queued on it: a range smaller than a block never fills a queue of its own, and counted per range the reader of
 * later ranges ran ahead without bound (180 MB for the narrow table). A block grown for a tuple larger than a block
 * counts as the blocks it holds (blockUnits).
 */
export class ReadAhead {
  /** Blocks not yet written, in blockUnits. */
  private held = 0;
  private paused = false;
  /** Abandoned: the rest of the result is drained, never paused again. */
  private draining = false;

  constructor(
    private readonly db: Db,
    private readonly limit = READ_AHEAD_BLOCKS,
  ) {}

  /**
   * `mayPause` false: the block comes with the end of its result (see
   * readTupleBlocks); a pause it calls for is owed, and taken at the next
   * query's first row (pauseIfOwed), or ranges of less than a block would
   * never pause their connection.
   */
  added(units: number, mayPause: boolean): void {
    this.held += units;
    if (this.held < this.limit) return;
    if (mayPause) this.pause();
    else this.owed = true;
  }

  /** At a row that is not the end of its result: the pause an end of result could not take. */
  pauseIfOwed(): void {
    if (!this.owed) return;
    this.owed = false;
    if (this.held >= this.limit) this.pause();
  }

  private owed = false;

  private pause(): void {
    if (this.paused || this.draining) return;
    this.paused = true;
    this.db.raw.pause();
  }

  taken(units: number): void {
    this.held -= units;
    if (this.paused && this.held < this.limit) this.resume();
  }

  drain(): void {
    this.draining = true;
    if (this.paused) this.resume();
  }

  private resume(): void {
    this.paused = false;
    this.db.raw.resume();
  }
}

/** A queue of blocks between one reader (a key range) and the statement writer; its connection's ReadAhead bounds it. */
export class BlockChannel {
  private readonly blocks: TupleBlock[] = [];
  private finished = false;
  private error: unknown = null;
  private wake: (() => void) | null = null;

  constructor(private readonly readAhead: ReadAhead) {}

  put(block: TupleBlock, mayPause = true): void {
    this.blocks.push(block);
    this.readAhead.added(blockUnits(block), mayPause);
    this.signal();
  }

  /** See ReadAhead.pauseIfOwed. */
  pauseIfOwed(): void {
    this.readAhead.pauseIfOwed();
  }

  finish(): void {
    this.finished = true;
    this.signal();
  }

  fail(err: unknown): void {
    if (this.error === null) this.error = err;
    this.signal();
  }

  /** The consumer gave up: the reader drains the rest of its result without keeping it. */
  abandon(err: unknown): void {
    this.fail(err);
    this.readAhead.drain();
  }

  get failed(): boolean {
    return this.error !== null;
  }

  /** Finished or failed: the reader has nothing more to say. */
  get settled(): boolean {
    return this.finished || this.error !== null;
  }

  /** The next block, or null at the end; rejects with the reader's error. */
  async next(): Promise<TupleBlock | null> {
    for (;;) {
      if (this.error !== null) throw this.error;
      const block = this.blocks.shift();
      if (block) {
        this.readAhead.taken(blockUnits(block));
        return block;
      }
      if (this.finished) return null;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private signal(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}

interface RawPacket {
  buffer: Buffer;
  offset: number;
  end: number;
  isEOF(): boolean;
}

/** The parts of mysql2's Query and Execute commands that the raw row state uses. */
interface QueryStates {
  row: (packet: RawPacket, connection: unknown) => unknown;
  readField: (packet: RawPacket, connection: unknown) => unknown;
  fieldsEOF: (packet: RawPacket, connection: unknown) => unknown;
  done(): unknown;
  on(event: 'error' | 'end', listener: (err: unknown) => void): unknown;
  on(event: 'fields', listener: (fields: ResultField[]) => void): unknown;
}

/** The command still has the states this reader replaces (mysql2 calls them through `this`). */
function queryInternalsProblem(query: Partial<QueryStates>, binary: boolean): string | null {
  if (typeof query.row !== 'function') return 'its Query command has no row state';
  // An execution's states are wrapped too (see readTupleBlocks).
  if (binary && (typeof query.readField !== 'function' || typeof query.fieldsEOF !== 'function')) return 'its Execute command has no readField or fieldsEOF state';
  if (typeof query.done !== 'function' || typeof query.on !== 'function') return 'its Query command has no done() or on()';
  return null;
}

/**
 * Whether rows are read in the binary protocol (a prepared statement): numbers come as bytes,
 * which spares the server their text (numeric tables: about 80% of its CPU). Only native code
 * decodes them; SCHEMA_BACKUP_PROTOCOL=text keeps the text protocol.
 */
function readsBinary(encoder: TupleEncoder): boolean {
  return encoder.readsBinary && process.env.SCHEMA_BACKUP_PROTOCOL !== 'text';
}

/** The server refused to prepare the statement for want of room (max_prepared_stmt_count reached, or set to 0). */
const ER_MAX_PREPARED_STMT_COUNT_REACHED = 1461;

function preparationRefused(err: unknown): boolean {
  return (err as { errno?: unknown } | null)?.errno === ER_MAX_PREPARED_STMT_COUNT_REACHED;
}

function isRawPacket(packet: unknown): packet is RawPacket {
  const p = packet as Partial<RawPacket> | null;
  return !!p && Buffer.isBuffer(p.buffer) && typeof p.offset === 'number' && typeof p.end === 'number' && typeof p.isEOF === 'function';
}

/** Rows per batch at most (a 64 KiB socket chunk of the narrowest rows holds about 4,000). */
const BATCH_ROWS = 8192;

const EMPTY_RANGES = new Int32Array(0);

/** The row packets of one socket chunk, gathered to be encoded in one call. */
class RowBatcher implements RowBatch {
  src: Buffer = Buffer.alloc(0);
  // Taken at the first row: every key range of a table has its reader from the start, and most wait.
  ranges = EMPTY_RANGES;
  count = 0;

  /** False when the row belongs to another chunk or the batch is full: encode, then add again. */
  add(src: Buffer, start: number, end: number): boolean {
    if (this.mustEncodeBefore(src)) return false;
    this.open(src);
    this.ranges[2 * this.count] = start;
    this.ranges[2 * this.count + 1] = end;
    this.count++;
    return true;
  }

  /** A batch holds one chunk's rows: another chunk's, or a full batch, is encoded before rows of `src` are added. */
  mustEncodeBefore(src: Buffer): boolean {
    return this.count > 0 && (src !== this.src || this.count === BATCH_ROWS);
  }

  /** The batch, for rows of `src` (which it must be empty of, or already hold). */
  open(src: Buffer): this {
    if (this.ranges === EMPTY_RANGES) this.ranges = new Int32Array(2 * BATCH_ROWS);
    this.src = src;
    return this;
  }

  clear(): void {
    this.count = 0;
  }
}

export interface ReadSpec {
  table: DbTableDetail;
  where?: string;
  /** See RowSelectOptions.columnExpressions. */
  columnExpressions?: ReadonlyMap<string, string>;
  /** Longest tuple allowed (the session's max_allowed_packet). */
  maxTupleBytes: number;
}

export interface ReadOptions {
  /** Called once the read's command has ended on its connection (whatever its outcome): the time to queue the next. */
  onEnd?: () => void;
  /** 'text': never a prepared statement (the fallback of a refused one). */
  protocol?: 'any' | 'text';
}

/**
 * Starts reading; blocks arrive in `channel`. Queue a connection's next read from
 * this one's onEnd (see dumpTableRows), not before: a connection then holds one
 * prepared statement at most (its close goes out before the next read's), and a
 * read refused its statement and done again as text keeps its turn; queued
 * behind later reads, it would wait for them while their read-ahead waits for it.
 */
export function readTupleBlocks(db: Db, spec: ReadSpec, channel: BlockChannel, options: ReadOptions = {}): void {
  const { table } = spec;
  const kinds = Uint8Array.from(rowColumns(table).map((c) => columnRead(c).kind));
  const encoder = new TupleEncoder(kinds, table.name, spec.maxTupleBytes);
  const binary = options.protocol !== 'text' && readsBinary(encoder);
  const select = { where: spec.where, columnExpressions: spec.columnExpressions };
  const sql = binary ? binaryRowSelectSql(table, select) : rawRowSelectSql(table, select);
  const batch = new RowBatcher();
  /**
   * Never paused at the end of a result: mysql2 then starts the next query on the
   * connection through handlePacket(), which, paused, queues an undefined packet
   * that its resume() takes for the end of the queue: the query never starts.
   * The pause is owed instead, and taken at the next query's first row.
   */
  let ending = false;
  const onBlock = (block: TupleBlock): void => channel.put(block, !ending);
  /** Encodes the rows gathered so far; false (the channel failed) when that throws. */
  const encodeBatch = (): boolean => {
    try {
      encoder.encodeRows(batch, onBlock);
      return true;
    } catch (err) {
      channel.fail(err);
      return false;
    } finally {
      batch.clear();
    }
  };
  const command = { sql, rowsAsArray: true };
  const query = (binary ? db.raw.execute(command) : db.raw.query(command)) as unknown as QueryStates;
  // The statement is this read's alone: closed as soon as it ends (mysql2 keys its statements by these options too,
  // while its types take only the SQL).
  const close = (): void => {
    if (binary) (db.raw as unknown as { unprepare(o: typeof command): unknown }).unprepare(command);
  };
  /** The command is over: its statement closed, then the connection's next read queued behind that close. */
  const ended = (): void => {
    close();
    options.onEnd?.();
  };
  const problem = queryInternalsProblem(query, binary);
  if (problem !== null) {
    // The query runs to its end inside mysql2 as usual; only its rows are not ours.
    channel.fail(internalsChanged(problem));
    query.on('error', () => undefined);
    query.on('end', ended);
    return;
  }
  const mysql2Row = query.row;
  if (binary) {
    // Told inside mysql2's field state: a failure here fails the read, never mysql2's parsing.
    query.on('fields', (fields) => {
      const read = resultWire(fields);
      if ('wire' in read) {
        try {
          encoder.readBinary(read.wire);
        } catch (err) {
          channel.fail(err);
        }
      } else channel.fail(new DatabaseError(`reading rows of table ${table.name}: the server sent ${read.unsupported}, which the binary protocol's reader does not decode; set SCHEMA_BACKUP_PROTOCOL=text and run again`));
    });
    // Execute's states name their successors by its prototype (Query's go to this.row): its field states
    // are wrapped so that the rows come to this reader's row state.
    const proto = Object.getPrototypeOf(query) as QueryStates;
    const readField = function (this: QueryStates, packet: RawPacket, connection: unknown): unknown {
      const next = proto.readField.call(this, packet, connection);
      return next === proto.readField ? readField : next === proto.fieldsEOF ? fieldsEOF : next;
    };
    const fieldsEOF = function (this: QueryStates, packet: RawPacket, connection: unknown): unknown {
      const next = proto.fieldsEOF.call(this, packet, connection);
      return next === mysql2Row ? this.row : next;
    };
    query.readField = readField;
  }
  const readFailed = (err: unknown): void => channel.fail(toDatabaseError(err, `reading rows of table ${table.name}`));
  /** One row packet's payload src[start, end), by either path. */
  const takeRow = (src: Buffer, start: number, end: number): void => {
    if (channel.failed) return; // drain what is left of a failed read
    channel.pauseIfOwed();
    // Rows are encoded a socket chunk at a time: at the chunk's end (chunkDone), or on mysql2's path when the next chunk's first row comes.
    if (!batch.add(src, start, end) && encodeBatch()) batch.add(src, start, end);
  };
  const row = function (this: QueryStates, packet: RawPacket): unknown {
    if (packet.isEOF()) {
      ending = true;
      if (!channel.failed && encodeBatch()) {
        if (!encoder.empty) channel.put(encoder.take(), false);
        channel.finish();
      }
      return this.done();
    }
    takeRow(packet.buffer, packet.offset, packet.end);
    return row;
  };
  // The first packet (a row, or the end of an empty result) shows whether packets still look as this reader reads them.
  const firstRow = function (this: QueryStates, packet: RawPacket, connection: unknown): unknown {
    if (isRawPacket(packet)) return row.call(this, packet);
    channel.fail(internalsChanged('its row packets have no buffer, offset, end or isEOF()'));
    return mysql2Row.call(this, packet, connection); // mysql2 reads the rest itself, so the connection stays in step
  };
  query.row = firstRow;
  // From its start the query's row packets can be taken off the socket, past mysql2's per-packet dispatch.
  const queryStates = query as unknown as QueryStates & { next?: unknown };
  const target: RowPacketTarget = {
    command: query,
    inRows: () => queryStates.next === firstRow || queryStates.next === row,
    row: takeRow,
    rowRanges: (src) => {
      if (channel.failed) return null;
      channel.pauseIfOwed();
      if (batch.mustEncodeBefore(src) && !encodeBatch()) return null;
      return batch.open(src);
    },
    chunkDone: () => {
      if (batch.count > 0) encodeBatch();
    },
    fail: readFailed,
  };
  const stopTaking = takeRowPackets(db.raw, target);
  /** The statement could not be prepared: the same read in the text protocol instead (nothing of it was read yet). */
  let readAsText = false;
  query.on('error', (err) => {
    if (binary && preparationRefused(err) && !channel.settled) {
      readAsText = true;
      try {
        readTupleBlocks(db, spec, channel, { ...options, protocol: 'text' });
      } catch (textErr) {
        readAsText = false; // this read's end then ends it, and the next is queued
        readFailed(textErr);
      }
    } else {
      readFailed(err);
    }
  });
  // mysql2 ends a query after its last state; if that was not ours (the end-of-rows packet), the rows went elsewhere.
  query.on('end', () => {
    stopTaking();
    // Refused its statement: the text read took over, and ends in its turn.
    if (readAsText) return;
    if (!channel.settled) {
      channel.fail(
        new DatabaseError(
          `reading rows of table ${table.name}: the query ended without its end-of-rows packet reaching schema_backup ` +
            `(mysql2 ${installedMysql2()}; schema_backup needs exactly mysql2 ${MYSQL2_VERSION}: reinstall with npm ci)`,
        ),
      );
    }
    ended();
  });
}

/** The session's max_allowed_packet: the server-side rendering failed beyond it, so this one does too. */
export async function maxAllowedPacket(db: Db): Promise<number> {
  const [[value]] = await db.queryArrays('SELECT @@max_allowed_packet');
  return Number(value);
}

/** Writes the blocks of each channel, in order, as INSERT statements of at most `limit` bytes; flushes the sink when it asks. */
export async function writeStatements(table: DbTableDetail, channels: BlockChannel[], sink: RowSink, limit: number): Promise<RowsResult> {
  const writer = new StatementWriter(Buffer.from(insertPrefix(table), 'utf8'), sink, limit);
  // Blocks whose bytes are still in the sink's pending chunks; free to reuse after a flush.
  let held: TupleBlock[] = [];
  progress.readStarted(table.name);
  try {
    for (const channel of channels) {
      for (let block = await channel.next(); block; block = await channel.next()) {
        progress.moved(block.lengths.length, block.data.length);
        held.push(block);
        if (writer.add(block)) {
          await sink.flush();
          progress.moved();
          for (const b of held) recycleBlock(b);
          held = [];
        }
      }
    }
  } catch (err) {
    // No reader may stay paused: its connection would never finish the query (and never close).
    for (const channel of channels) channel.abandon(err);
    throw err;
  } finally {
    progress.readEnded();
  }
  writer.end();
  return { rows: writer.rows, statements: writer.statements };
}

export interface DumpRowsOptions extends RowSelectOptions {
  /** Longest statement; default: from this server's max_allowed_packet (statementLimit). */
  statementBytes?: number;
}

/** Streams rows into the sink as INSERT statements over one connection. `where` restricts to a key range. */
export async function dumpRows(db: Db, table: DbTableDetail, sink: RowSink, options: DumpRowsOptions = {}): Promise<RowsResult> {
  const channel = new BlockChannel(new ReadAhead(db));
  const packet = await maxAllowedPacket(db);
  readTupleBlocks(db, { table, where: options.where, columnExpressions: options.columnExpressions, maxTupleBytes: packet }, channel);
  return writeStatements(table, [channel], sink, options.statementBytes ?? statementLimit(packet));
}
