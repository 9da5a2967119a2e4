/**
 * A statement sent as bytes: the restore's rows go from the backup file into
 * the query packet with one copy, never through a JavaScript string. mysql2
 * takes only strings: each 1 MiB query cost a string made of the bytes, the
 * packet encoded from that string, a fresh packet buffer and its garbage
 * (measured with --cpu-prof: 0.6 s of a 1M-row restore's 2.2 s of client CPU,
 * and the peak memory of larger queries). Here the caller writes the
 * statement into a packet buffer it keeps and reuses; mysql2 frames and
 * sends it and reads the answer as for any query. This replaces the start
 * state of mysql2's Query command (see mysql2-internals.ts).
 */
import mysql, { type Connection } from 'mysql2';
import { internalsChanged } from './mysql2-internals';

/**
 * Room before the statement in a query packet: the 4-byte packet header, the command
 * byte, and the two bytes of an empty attribute list where the server takes query
 * attributes (MySQL 8.0.23+; MariaDB does not offer them).
 */
export const QUERY_HEAD = 7;
const COM_QUERY = 0x03;
/** The protocol's capability flag (CLIENT_QUERY_ATTRIBUTES), as mysql2's Query packet tests it. */
const CLIENT_QUERY_ATTRIBUTES = 0x08000000;

/** A query packet buffer with room for `bytes` of statement; `reuse` is taken when it is large enough. */
export function queryPacketBuffer(bytes: number, reuse?: Buffer): Buffer {
  if (reuse && reuse.length >= QUERY_HEAD + bytes) return reuse;
  // An eighth more than asked: a lane's statements grow a little at a time, not one allocation each.
  return Buffer.allocUnsafe(QUERY_HEAD + Math.max(bytes + (bytes >> 3), 1 << 16));
}

/**
 * The COM_QUERY packet for the statement at [QUERY_HEAD, QUERY_HEAD + length) of `packet`:
 * its command bytes written just before the statement, the packet (header room included)
 * returned as a view. The header itself is mysql2's to write (sequence id).
 */
export function frameQuery(packet: Buffer, length: number, withAttributes: boolean): Buffer {
  const start = withAttributes ? 0 : 2;
  packet[start + 4] = COM_QUERY;
  if (withAttributes) {
    packet[5] = 0; // parameter_count
    packet[6] = 1; // parameter_set_count
  }
  return packet.subarray(start, QUERY_HEAD + length);
}

/** What the packet writer of a mysql2 connection reads of a packet. */
interface OutgoingPacket {
  buffer: Buffer;
  length(): number;
  writeHeader(sequenceId: number): void;
}

/** The parts of mysql2's Query command and connection that a query sent as bytes uses. */
interface QueryCommand {
  start(packet: unknown, connection: ConnectionInternals): unknown;
  _setTimeout(): void;
  _queryOptions: unknown;
  _connection: unknown;
  options: unknown;
}
interface ConnectionInternals {
  config: { clientFlags?: number };
  serverCapabilityFlags?: number;
  writePacket(packet: OutgoingPacket): void;
}
interface Mysql2Statics {
  createQuery(sql: string, values: undefined, cb: (err: unknown, result: unknown) => void, config: unknown): QueryCommand;
  ConnectionConfig: { queryOptions(config: unknown, overrides: unknown): unknown };
}

/** Why this mysql2 cannot send a query as bytes, or null. */
function internalsProblem(m: Partial<Mysql2Statics>, query: Partial<QueryCommand> | null): string | null {
  if (typeof m.createQuery !== 'function' || typeof m.ConnectionConfig?.queryOptions !== 'function') return 'no createQuery or ConnectionConfig.queryOptions';
  const proto = query ? (Object.getPrototypeOf(query) as { start?: unknown; resultsetHeader?: unknown }) : null;
  if (!query || typeof proto?.start !== 'function' || typeof proto.resultsetHeader !== 'function' || typeof query._setTimeout !== 'function' || !('_queryOptions' in query)) {
    return 'its Query command has no start, resultsetHeader or _setTimeout';
  }
  return null;
}

/**
 * Runs the statement held in `packet` [QUERY_HEAD, QUERY_HEAD + length) on `raw`;
 * resolves with mysql2's result (an OK packet's fields, or rows). `packet` must
 * not change until the promise settles (the server has then read all of it).
 */
export function queryBytes(raw: Connection, packet: Buffer, length: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    // A header promising more bytes than follow would leave the server waiting for them: a hang, not an error.
    if (packet.length < QUERY_HEAD + length) {
      reject(new RangeError(`a query packet of ${packet.length} bytes cannot hold a statement of ${length}`));
      return;
    }
    const m = mysql as unknown as Partial<Mysql2Statics>;
    const conn = raw as unknown as ConnectionInternals & { query(cmd: QueryCommand): unknown };
    const query = typeof m.createQuery === 'function' ? m.createQuery('/* statement sent as bytes */', undefined, (err, result) => (err ? reject(err) : resolve(result)), conn.config) : null;
    const problem = internalsProblem(m, query);
    if (problem !== null || !query) {
      reject(internalsChanged(problem ?? 'no Query command'));
      return;
    }
    const statics = m as Mysql2Statics;
    const next = (Object.getPrototypeOf(query) as { resultsetHeader: unknown }).resultsetHeader;
    // What Query.start does, with our packet instead of one encoded from a string.
    query.start = function (this: QueryCommand, _packet: unknown, connection: ConnectionInternals): unknown {
      this._connection = connection;
      this.options = statics.ConnectionConfig.queryOptions(connection.config, this._queryOptions);
      this._setTimeout();
      const withAttributes = ((connection.config.clientFlags ?? 0) & (connection.serverCapabilityFlags ?? 0) & CLIENT_QUERY_ATTRIBUTES) !== 0;
      const framed = frameQuery(packet, length, withAttributes);
      connection.writePacket({
        buffer: framed,
        length: () => framed.length,
        // Only for packets under 16 MiB; longer ones are cut and framed by mysql2 itself.
        writeHeader(sequenceId: number) {
          framed.writeUIntLE(framed.length - 4, 0, 3);
          framed[3] = sequenceId;
        },
      });
      return next;
    };
    conn.query(query);
  });
}
