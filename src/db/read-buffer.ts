/**
 * A connection's socket, read into one buffer of its own that every read
 * reuses (Node's `onread` option), instead of a new 64 KiB buffer per read.
 * Each new buffer was memory touched for the first time: reading the big
 * table's 242 MB that way cost 9,000-17,000 page faults and 185-217 ms of user
 * and 273-300 ms of system CPU; into one reused buffer, about 100 faults and
 * 63-75 ms and 113-122 ms (a bare read of the rows, same server, same run). On
 * two cores that CPU is the server's.
 *
 * A chunk goes on as a copy (mysql2 keeps views of what it is given: column
 * definitions, packets queued while paused), except to a parser that reads it
 * only while it is called and copies what it keeps (the row packet parser,
 * row-packets.ts): rows are encoded straight out of this buffer.
 *
 * Plain TCP or a unix socket only: connectionOptions asks for no TLS, and a TLS socket would read through its own
 * buffers, not this one.
 */
import { connect as netConnect, type Socket } from 'node:net';

/** Node's own read size. */
const READ_BUFFER_BYTES = 64 << 10;

/** A packet parser that reads a chunk only while it is called, copying what it keeps. */
export interface SharedChunkReader {
  executeShared(chunk: Buffer): void;
}

function readsSharedChunks(parser: unknown): parser is SharedChunkReader {
  return typeof (parser as Partial<SharedChunkReader> | null)?.executeShared === 'function';
}

export type SocketAddress = { path: string } | { host: string; port: number };

/**
 * Opens the socket. `parser()` gives the connection's packet parser of the moment (mysql2's, or one put in its
 * place); a chunk for any other parser is emitted as a `data` event to mysql2's listener (pause() stops the reads
 * themselves, so nothing is emitted while the connection is paused).
 */
export function openReadBufferSocket(address: SocketAddress, parser: () => unknown): Socket {
  const buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  const onread = {
    buffer,
    callback: (bytes: number): boolean => {
      const chunk = buffer.subarray(0, bytes);
      const current = parser();
      if (readsSharedChunks(current)) current.executeShared(chunk);
      else socket.emit('data', Buffer.from(chunk));
      return true;
    },
  };
  // As mysql2 sets up the sockets it opens itself: no delay and keep-alive on TCP.
  const socket = 'path' in address ? netConnect({ path: address.path, onread }) : netConnect({ host: address.host, port: address.port, onread, noDelay: true, keepAlive: true });
  return socket;
}
