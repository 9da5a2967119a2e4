/**
 * mysql2 behind a narrow interface: open a connection from credentials, run
 * queries, stream rows. Errors become DatabaseError with the server's words
 * (never the password: mysql2's messages do not contain it).
 */
import type { EventEmitter } from 'node:events';
import mysql from 'mysql2';
import type { Connection, FieldPacket } from 'mysql2';
import { isSocketHost } from '../config/socket';
import type { DbCredentials } from '../config/types';
import { DatabaseError } from '../errors';
import { openReadBufferSocket } from './read-buffer';

export interface Db {
  readonly raw: Connection;
  readonly database: string;
  query<T = Record<string, unknown>>(sql: string, values?: unknown[]): Promise<T[]>;
  /** Rows as arrays of strings (NULL as null). */
  queryArrays(sql: string, values?: unknown[]): Promise<(string | null)[][]>;
  /**
   * Each statement's rows as queryArrays gives them, in order. On a connection opened with `batches`, in one
   * round trip per batch of statements; otherwise one at a time. Statements are whole SQL text: every name in
   * them must come through quoteIdent.
   */
  queryArraysEach(statements: readonly string[]): Promise<(string | null)[][][]>;
  close(): Promise<void>;
  /** Kills the socket at once (used on abort). */
  destroy(): void;
}

function describe(err: unknown): string {
  const e = err as { code?: string; sqlMessage?: string; message?: string };
  return e.sqlMessage ? `${e.code}: ${e.sqlMessage}` : e.message ?? String(err);
}

export function toDatabaseError(err: unknown, context: string): DatabaseError {
  return new DatabaseError(`${context}: ${describe(err)}`, { cause: err });
}

/**
 * As the mysql and mariadb clients do: the socket is for `localhost`; a host
 * given by name or address means TCP even when a socket is configured too.
 * Which socket (or none) was chosen when the credentials were read (config/socket.ts).
 */
export function usesSocket(creds: DbCredentials): boolean {
  return creds.socketPath !== null && isSocketHost(creds.host);
}

export function connectionOptions(creds: DbCredentials): mysql.ConnectionOptions {
  return {
    ...(usesSocket(creds) ? { socketPath: creds.socketPath as string } : { host: creds.host, port: creds.port }),
    user: creds.user,
    password: creds.password,
    database: creds.database,
    charset: 'utf8mb4_general_ci',
    // Dates, decimals and big numbers as strings: nothing is reinterpreted by JavaScript.
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: false,
    timezone: 'Z',
    connectTimeout: 15000,
    multipleStatements: false,
    queryFormat: formatQuery,
  };
}

/**
 * Placeholders are filled only where there are values: mysql2 otherwise scans
 * every query text for them, which for a restore's 16 MiB INSERTs was a
 * tenth of the client's time (measured with --cpu-prof).
 */
function formatQuery(sql: string, values: unknown): string {
  if (values === undefined || values === null || (Array.isArray(values) && values.length === 0)) return sql;
  return mysql.format(sql, values as mysql.SqlValue[]);
}

export interface ConnectOptions {
  /**
   * Strings go on the wire one byte per character (the binary character set: no conversion) while the
   * session says utf8mb4 (SET NAMES after connecting): for text that already holds
   * the bytes to send (the loader's 16 MiB INSERTs), with no decoding and encoding.
   */
  byteStrings?: boolean;
  /**
   * Lets queryArraysEach send many statements in one query (the client's multi-statement flag). A round trip
   * costs 0.2-0.4 ms here whatever the statement, so a site's 60 SHOW CREATE statements took 20-33 ms one by
   * one and 2 ms in one query. Only for a connection whose SQL is built from quoted identifiers (quote.ts), and
   * whose `?` values are escaped as its session reads them: not under NO_BACKSLASH_ESCAPES (snapshot.ts drops it).
   */
  batches?: boolean;
}

/** Statements per query, and characters per query (well below max_allowed_packet's smallest setting, 1 MiB). */
const BATCH_STATEMENTS = 200;
const BATCH_CHARS = 64 << 10;

/** `statements` cut into batches, in order. Pure. */
export function statementBatches(statements: readonly string[]): string[][] {
  const batches: string[][] = [];
  let current: string[] = [];
  let chars = 0;
  for (const sql of statements) {
    // Each statement and its separator (`;` and a newline).
    if (current.length > 0 && (current.length >= BATCH_STATEMENTS || chars + sql.length + 2 > BATCH_CHARS)) {
      batches.push(current);
      current = [];
      chars = 0;
    }
    current.push(sql);
    chars += sql.length + 2;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

export async function connect(creds: DbCredentials, options: ConnectOptions = {}): Promise<Db> {
  const settings = connectionOptions(creds);
  const address = settings.socketPath !== undefined ? { path: settings.socketPath } : { host: settings.host as string, port: settings.port as number };
  // The socket reads into one reused buffer (read-buffer.ts), handing chunks to the connection's packet parser
  // (asked for once data arrives, when `raw` is set).
  const stream = openReadBufferSocket(address, () => (raw as unknown as { packetParser: unknown }).packetParser);
  const raw = mysql.createConnection({ ...settings, stream, ...(options.byteStrings ? { charset: 'BINARY' } : {}), ...(options.batches ? { multipleStatements: true } : {}) });
  await new Promise<void>((resolve, reject) => {
    raw.connect((err) => (err ? reject(toDatabaseError(err, `cannot connect to ${where(creds)} as ${creds.user}`)) : resolve()));
  });
  // A connection error after connect must not crash the process: queries report it.
  raw.on('error', () => undefined);
  forwardFatalErrors(raw);
  return wrap(raw, creds.database, options.batches ?? false);
}

type Command = EventEmitter & { onResult?: unknown };

/**
 * mysql2 reports a fatal connection error (server gone, session KILLed) to
 * queries that have a callback, but to a streaming query or execution (no callback: the
 * row readers) not at all, only to the connection: the reader would wait
 * forever and the run would end with nothing said. Forward it to them.
 */
function forwardFatalErrors(raw: Connection): void {
  const streaming = new Set<Command>();
  // Both ways a reader streams: a query (text protocol) and a prepared statement's execution (binary protocol).
  for (const method of ['query', 'execute'] as const) {
    const target = raw as unknown as Record<typeof method, (...args: unknown[]) => Command>;
    const original = target[method].bind(raw);
    target[method] = (...args: unknown[]) => {
      const cmd = original(...args);
      if (!cmd.onResult) {
        streaming.add(cmd);
        cmd.once('end', () => streaming.delete(cmd));
      }
      return cmd;
    };
  }
  raw.on('error', (err) => {
    for (const cmd of [...streaming]) {
      streaming.delete(cmd);
      if (cmd.listenerCount('error') > 0) cmd.emit('error', err);
    }
  });
}

/** For messages: the socket or host:port, and for `localhost` why (e.g. which option file named the socket). */
export function where(creds: DbCredentials): string {
  const place = usesSocket(creds) ? `socket ${creds.socketPath}` : `${creds.host}:${creds.port}`;
  return creds.transport && isSocketHost(creds.host) ? `${place} (${creds.transport})` : place;
}

function wrap(raw: Connection, database: string, batches: boolean): Db {
  const query = <T>(sql: string, values?: unknown[], rowsAsArray = false) =>
    new Promise<T[]>((resolve, reject) => {
      raw.query({ sql, values, rowsAsArray }, (err, rows: unknown, _fields?: FieldPacket[]) => {
        if (err) reject(toDatabaseError(err, `query failed (${sql.slice(0, 120)})`));
        else resolve(rows as T[]);
      });
    });
  return {
    raw,
    database,
    query: (sql, values) => query(sql, values),
    queryArrays: (sql, values) => query<(string | null)[]>(sql, values, true),
    async queryArraysEach(statements) {
      const out: (string | null)[][][] = [];
      if (!batches) {
        for (const sql of statements) out.push(await query<(string | null)[]>(sql, undefined, true));
        return out;
      }
      for (const batch of statementBatches(statements)) {
        const rows = await query<unknown>(batch.join(';\n'), undefined, true);
        // One statement's result comes as its rows, several as a list of each one's rows.
        if (batch.length === 1) out.push(rows as (string | null)[][]);
        else out.push(...(rows as (string | null)[][][]));
      }
      return out;
    },
    close: () =>
      new Promise<void>((resolve) => {
        raw.end(() => resolve());
      }),
    destroy: () => raw.destroy(),
  };
}
