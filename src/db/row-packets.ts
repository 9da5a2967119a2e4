/**
 * The row packets of one raw query, framed straight off the socket: while the
 * query runs, its connection's packet parser is replaced by one that hands each
 * row packet to the reader's callback and every other packet (result header,
 * column definitions, the end of rows, an error) to mysql2 as its own parser
 * would. mysql2's path cost a dispatch through handlePacket, Command.execute
 * and the query's state per row: about a third of the client's CPU on narrow
 * rows (5M rows of three INTs, --cpu-prof), CPU that on 2 cores the client
 * shares with the server's threads.
 *
 * It relies on mysql2's connection internals (packetParser, read through
 * `this` on every socket chunk; handlePacket; sequenceId; the parser's reusable
 * packet), checked at install: where any is missing, or the parser is not at a
 * packet boundary, the query runs through mysql2's parser as before.
 */
import type { Connection } from 'mysql2';
import type { SharedChunkReader } from './read-buffer';

/** Row packets framed in bulk: `ranges` holds pairs (start, end) of payloads in `src`; `count` pairs are filled. */
export interface RowRanges {
  src: Buffer;
  ranges: Int32Array;
  count: number;
}

const EMPTY = Buffer.alloc(0);
/** A carry buffer's first size, and the largest kept once its packet is read (one of a 16 MiB row is let go). */
const CARRY_START = 16 << 10;
const CARRY_KEEP = 1 << 20;
/** Longest payload of one packet; a payload this long continues in the next packet. */
const MAX_PAYLOAD = 0xffffff;
const ERR_HEADER = 0xff;
const EOF_HEADER = 0xfe;
/**
 * The end of rows: an 0xfe header on a payload shorter than this. mysql2's Packet.isEOF counts the 4-byte header in
 * its 13; either bound tells an end from a row, whose 0xfe prefix means a value of 16 MiB or more.
 */
const EOF_MAX_LENGTH = 13;

/** The payload length in the 3-byte header of the packet at buf[p]. */
function payloadLength(buf: Buffer, p: number): number {
  return buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16);
}

/** What the parser hands mysql2, as its PacketParser does (one packet object, reused). */
interface ParserPacket {
  sequenceId: number;
  numPackets: number;
  buffer: Buffer;
  start: number;
  offset: number;
  end: number;
}

interface PacketParser {
  execute(chunk: Buffer): unknown;
  buffer?: unknown[];
  largePacketParts?: unknown[];
  _reusablePacket?: ParserPacket;
}

interface ConnectionInternals {
  packetParser: PacketParser;
  sequenceId: number;
  _command: unknown;
  _fatalError: unknown;
  config: { compress?: boolean };
  stream: { destroy(): void };
  handlePacket(packet: ParserPacket): void;
  _handleFatalError(err: Error): void;
}

/** The query's side: which packets are its rows, and where they go. */
export interface RowPacketTarget {
  /** The query command (mysql2's current command while it runs). */
  readonly command: unknown;
  /** True while the query's next packet is a row or the end of rows. */
  inRows(): boolean;
  /** A row packet's payload, src[start, end): its bytes hold only until chunkDone(). */
  row(src: Buffer, start: number, end: number): void;
  /**
   * Room for the row packets of `src` to be framed in bulk (ranges from pair `count` up to the array's end), which
   * counts as row() for each; null when rows go one at a time through row() (a failed read drains them there).
   */
  rowRanges(src: Buffer): RowRanges | null;
  /** The end of a socket chunk: the rows given so far must be used now (their bytes change with the next chunk). */
  chunkDone(): void;
  /** The reader itself threw: the connection then fails as mysql2 fails it (every query on it is told). */
  fail(err: unknown): void;
}

/** The internals this parser uses are there, the protocol is not compressed, and mysql2's parser is at a packet boundary. */
function canTake(conn: Partial<ConnectionInternals>): boolean {
  const parser = conn.packetParser;
  if (!parser || typeof parser.execute !== 'function' || !parser._reusablePacket) return false;
  if (typeof conn.handlePacket !== 'function' || typeof conn.sequenceId !== 'number') return false;
  if (typeof conn._handleFatalError !== 'function' || typeof conn.stream?.destroy !== 'function') return false;
  if (conn.config?.compress) return false;
  // Mid-packet (bytes of a packet already held), its next chunk must go to it.
  const proto = Object.getPrototypeOf(parser) as { executeStart?: unknown };
  return parser.execute === proto.executeStart && (parser.buffer?.length ?? 0) === 0 && (parser.largePacketParts?.length ?? 0) === 0;
}

/**
 * The parser in place of mysql2's while one raw query runs. It reads a chunk of the shared read buffer
 * (read-buffer.ts) only while called, and keeps copies of what it holds on to: a packet's start or pieces, and
 * whatever goes to mysql2.
 */
class RowPacketParser implements SharedChunkReader {
  /**
   * A packet that a chunk ended inside is gathered in `carry` (its first `carryBytes` bytes) until it is whole. Two
   * buffers take turns, kept from packet to packet: a packet completed in one is read (and its row encoded, by the
   * end of the chunk) while the chunk's own end is carried into the other. A new buffer for every carried packet was
   * memory touched for the first time (wide rows of 7 KB: one per socket chunk).
   */
  private carry = EMPTY;
  private spare = EMPTY;
  private carryBytes = 0;
  /** Payloads of a packet of 16 MiB or more, until its last part. */
  private parts: Buffer[] = [];
  private partsSequenceId = 0;
  /** The reader threw mid-chunk: where the stream stands is unknown, nothing more is read. */
  private broken = false;
  /** The chunk being read, while it is the shared read buffer: anything kept of it is copied. */
  private shared: Buffer | null = null;

  constructor(
    private readonly conn: ConnectionInternals,
    private readonly mysql2Parser: PacketParser,
    private readonly target: RowPacketTarget,
  ) {}

  executeShared(chunk: Buffer): void {
    this.shared = chunk;
    try {
      this.execute(chunk);
    } finally {
      this.shared = null;
    }
  }

  /** A buffer whose bytes change after this call: the shared read buffer, or a carry buffer (written again later). */
  private reused(buf: Buffer): boolean {
    return buf === this.shared || buf === this.carry || buf === this.spare;
  }

  /** A view of `buf` to keep past this call: a copy where `buf` is reused. */
  private kept(buf: Buffer, start: number, end: number): Buffer {
    const view = buf.subarray(start, end);
    return this.reused(buf) ? Buffer.from(view) : view;
  }

  execute(chunk: Buffer): void {
    // After a fatal error the connection is dead: mysql2 reads nothing more, and neither does this parser.
    if (this.broken || this.conn._fatalError) return;
    try {
      const p = this.carryBytes > 0 ? this.completeCarry(chunk) : 0;
      if (p >= 0) this.scan(chunk, p);
      if (!this.done()) this.target.chunkDone();
    } catch (err) {
      // The connection cannot be used again: it fails as mysql2 fails it (every query on it is told).
      this.broken = true;
      this.target.fail(err);
      this.conn._handleFatalError(err instanceof Error ? err : new Error(String(err)));
      this.conn.stream.destroy();
    }
  }

  private active(): boolean {
    return this.conn.packetParser === (this as unknown as PacketParser);
  }

  /** The query ended (its parser is back), or mysql2 failed the connection on a packet it was given. */
  private done(): boolean {
    return !this.active() || !!this.conn._fatalError;
  }

  /** Complete packets from `p` on; the rest is carried to the next chunk. */
  private scan(chunk: Buffer, p: number): void {
    const end = chunk.length;
    for (;;) {
      if (this.done()) {
        // Whatever follows the query's end is the connection's parser's (nothing is expected: the server waits for the next command).
        if (p < end && !this.conn._fatalError) this.conn.packetParser.execute(this.kept(chunk, p, end));
        return;
      }
      if (this.parts.length === 0 && this.target.inRows()) p = this.frameRows(chunk, p, end);
      if (end - p < 4) break;
      const length = payloadLength(chunk, p);
      const stop = p + 4 + length;
      if (stop > end) break;
      this.packet(chunk, p, length);
      p = stop;
    }
    if (p < end) this.carryFrom(chunk, p, end);
  }

  /** Appends chunk[from, to) to the carried packet, in a carry buffer grown to hold it whole (once its length is known). */
  private carryFrom(chunk: Buffer, from: number, to: number): void {
    const have = this.carryBytes;
    // The packet's length, where its header is here: carried (4 bytes in), or whole in this piece of a new carry.
    const head = have >= 4 ? this.carry : have === 0 && to - from >= 4 ? chunk.subarray(from) : null;
    const whole = head === null ? 4 : 4 + payloadLength(head, 0);
    const need = Math.max(whole, have + to - from);
    if (this.carry.length < need) {
      const grown = Buffer.allocUnsafe(Math.max(need, CARRY_START));
      this.carry.copy(grown, 0, 0, have);
      this.carry = grown;
    }
    chunk.copy(this.carry, have, from, to);
    this.carryBytes = have + to - from;
  }

  /**
   * Frames the run of whole row packets from `p` straight into the target's ranges; returns where it stopped: at a
   * packet that is not a plain row (the end of rows, an error, one of 16 MiB or more), at the packet the chunk ends
   * inside, or where the target takes rows one at a time. The loop of packet() and deliver() per row cost as much as
   * encoding the narrowest rows (5M rows of three INTs).
   */
  private frameRows(chunk: Buffer, p: number, end: number): number {
    for (;;) {
      const batch = this.target.rowRanges(chunk);
      if (batch === null) return p;
      const ranges = batch.ranges;
      const room = ranges.length >> 1;
      const first = batch.count;
      let n = first;
      while (n < room && end - p >= 4) {
        const length = payloadLength(chunk, p);
        const stop = p + 4 + length;
        if (stop > end || length === MAX_PAYLOAD) break;
        const head = chunk[p + 4];
        if (head === ERR_HEADER || (head === EOF_HEADER && length < EOF_MAX_LENGTH)) break;
        ranges[2 * n] = p + 4;
        ranges[2 * n + 1] = stop;
        n++;
        p = stop;
      }
      batch.count = n;
      this.conn.sequenceId = (this.conn.sequenceId + n - first) & 0xff;
      // Stopped with room left: at a packet for the one-at-a-time path, or at the chunk's end. Full: room is made.
      if (n < room) return p;
    }
  }

  /** Finishes the carried packet with the chunk's first bytes; returns where the chunk's next packet starts, or -1. */
  private completeCarry(chunk: Buffer): number {
    let used = 0;
    if (this.carryBytes < 4) {
      used = Math.min(4 - this.carryBytes, chunk.length);
      this.carryFrom(chunk, 0, used);
      if (this.carryBytes < 4) return -1;
    }
    const length = payloadLength(this.carry, 0);
    const need = 4 + length - this.carryBytes;
    if (chunk.length - used < need) {
      // A packet longer than the chunk: gathered piece by piece (a 16 MiB packet spans hundreds of chunks).
      this.carryFrom(chunk, used, chunk.length);
      return -1;
    }
    this.carryFrom(chunk, used, used + need);
    const packet = this.carry;
    // The next carried packet goes to the other buffer: this one's row is read until the chunk's end.
    this.carry = this.spare.length > CARRY_KEEP ? EMPTY : this.spare;
    this.spare = packet;
    this.carryBytes = 0;
    this.packet(packet, 0, length);
    return used + need;
  }

  /** One whole packet at buf[p, p + 4 + length). */
  private packet(buf: Buffer, p: number, length: number): void {
    if (length < MAX_PAYLOAD && this.parts.length === 0) {
      this.deliver(buf[p + 3], 1, buf, p, p + 4 + length);
      return;
    }
    // A packet of 16 MiB or more comes in parts: joined, as mysql2's parser joins them.
    if (this.parts.length === 0) this.partsSequenceId = buf[p + 3];
    this.parts.push(this.kept(buf, p + 4, p + 4 + length));
    if (length === MAX_PAYLOAD) return;
    const parts = this.parts.length;
    const whole = Buffer.concat([Buffer.alloc(4), ...this.parts]);
    this.parts = [];
    this.deliver(this.partsSequenceId, parts, whole, 0, whole.length);
  }

  /** A whole packet (header room at buffer[start]) of `numPackets` on the wire: to the reader if a row, else to mysql2. */
  private deliver(sequenceId: number, numPackets: number, buffer: Buffer, start: number, end: number): void {
    const first = buffer[start + 4];
    if (first !== ERR_HEADER && !(first === EOF_HEADER && end - start - 4 < EOF_MAX_LENGTH) && this.target.inRows()) {
      this.conn.sequenceId = (this.conn.sequenceId + numPackets) & 0xff;
      this.target.row(buffer, start + 4, end);
    } else {
      this.toMysql2(sequenceId, numPackets, buffer, start, end);
    }
  }

  private toMysql2(sequenceId: number, numPackets: number, buffer: Buffer, start: number, end: number): void {
    // mysql2 may keep the packet's buffer (a column definition reads its names from it later; a paused connection queues it).
    if (this.reused(buffer)) {
      buffer = this.kept(buffer, start, end);
      end -= start;
      start = 0;
    }
    const packet = this.mysql2Parser._reusablePacket as ParserPacket;
    packet.sequenceId = sequenceId;
    packet.numPackets = numPackets;
    packet.buffer = buffer;
    packet.start = start;
    packet.offset = start + 4;
    packet.end = end;
    this.conn.handlePacket(packet);
    if (this.conn._command !== this.target.command) this.restore();
  }

  restore(): void {
    if (this.active()) this.conn.packetParser = this.mysql2Parser;
  }
}

/** Puts the direct parser in place where it can be (otherwise mysql2's parser reads the rows); returns its undo. */
function install(conn: ConnectionInternals, target: RowPacketTarget): () => void {
  if (!canTake(conn)) return () => undefined;
  const parser = new RowPacketParser(conn, conn.packetParser, target);
  conn.packetParser = parser as unknown as PacketParser;
  return () => parser.restore();
}

/**
 * Takes the row packets of `target.command`, a mysql2 query just queued on `raw`, off the socket
 * from the moment it starts (the connection's parser is then at a packet boundary); returns the undo,
 * for when the query ends. SCHEMA_BACKUP_ROW_PACKETS=mysql2 leaves every packet to mysql2.
 */
export function takeRowPackets(raw: Connection, target: RowPacketTarget): () => void {
  let stop = (): void => undefined;
  if (process.env.SCHEMA_BACKUP_ROW_PACKETS === 'mysql2') return stop;
  const conn = raw as unknown as ConnectionInternals;
  const take = (): void => {
    stop = install(conn, target);
  };
  // mysql2 starts a query on an idle connection inside query(); on a busy one, when its turn comes.
  if (conn._command === target.command) take();
  else {
    const command = target.command as { start: (packet: unknown, connection: unknown) => unknown };
    const start = command.start;
    command.start = function (this: unknown, packet: unknown, connection: unknown): unknown {
      take();
      return start.call(this, packet, connection);
    };
  }
  return () => stop();
}
