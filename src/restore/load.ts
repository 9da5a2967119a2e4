/**
 * The hot path of a restore: backup files into one (staging) database, in
 * process. Structure runs on one connection; the INSERT statements of every
 * file are spread over a small pool of connections (a big table loads over
 * several at once), each in large transactions with unique and foreign-key
 * checks off and, where permitted, no binary log. Memory stays bounded: a
 * file is read only as fast as a connection is free to take its next statement.
 */
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { Connection } from 'mysql2';
import type { DbCredentials } from '../config/types';
import { connect, type Db } from '../db/connect';
import { DatabaseError, StoreError, errorMessage } from '../errors';
import { StatementSplitter } from './split';
import { classifyStatement, triggerSqlMode, createdName, type RoutineDef } from './statements';

/** Commit a loading transaction after this many bytes of statements: few fsyncs, bounded undo. */
const COMMIT_BYTES = 32 << 20;
const READ_CHUNK = 1 << 20;

/** The session every loading connection runs in (the files' own header says the same). */
export const LOAD_SESSION = [
  'SET NAMES utf8mb4',
  "SET SESSION time_zone = '+00:00'",
  "SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'",
  'SET SESSION foreign_key_checks = 0',
  'SET SESSION unique_checks = 0',
  'SET SESSION net_read_timeout = 3600',
  'SET SESSION net_write_timeout = 3600',
];

function serverMessage(err: unknown): string {
  const e = err as { code?: string; sqlMessage?: string; message?: string };
  return e.sqlMessage ? `${e.code}: ${e.sqlMessage}` : e.message ?? String(err);
}

async function openSession(creds: DbCredentials, database: string, autocommit: boolean): Promise<Db> {
  const db = await connect({ ...creds, database });
  try {
    for (const sql of LOAD_SESSION) await db.query(sql);
    // Not replicating a restore is the operator's choice on a primary; needs SUPER/BINLOG ADMIN, so best effort.
    await db.query('SET SESSION sql_log_bin = 0').catch(() => undefined);
    if (!autocommit) await db.query('SET SESSION autocommit = 0');
  } catch (err) {
    db.destroy();
    throw err;
  }
  return db;
}

interface Worker {
  db: Db;
  uncommitted: number;
}

export interface LoadedTable {
  table: string;
  rows: number;
  triggers: RoutineDef[];
}

export class Loader {
  private idle: Worker[] = [];
  private waiting: ((w: Worker) => void)[] = [];
  private inFlight = new Set<Promise<void>>();
  private failure: Error | null = null;

  private constructor(
    readonly ddl: Db,
    private readonly workers: Worker[],
  ) {
    this.idle = [...workers];
  }

  /** Opens the DDL connection and `parallel` loading connections on `database`. */
  static async open(creds: DbCredentials, database: string, parallel = 3): Promise<Loader> {
    const dbs: Db[] = [];
    try {
      dbs.push(await openSession(creds, database, true));
      for (let i = 0; i < parallel; i++) dbs.push(await openSession(creds, database, false));
    } catch (err) {
      for (const d of dbs) d.destroy();
      throw err;
    }
    const [ddl, ...rest] = dbs as [Db, ...Db[]];
    return new Loader(ddl, rest.map((db) => ({ db, uncommitted: 0 })));
  }

  /**
   * Loads one backup file: its CREATE TABLE at once, its rows (when `withRows`)
   * handed to the pool. Resolves once every row statement is handed over, not
   * executed: call finish() for that. Triggers are returned, not created.
   */
  async loadFile(file: { table: string; path: string; compressed: boolean; withRows: boolean }): Promise<LoadedTable> {
    const result: LoadedTable = { table: file.table, rows: 0, triggers: [] };
    const splitter = new StatementSplitter();
    let sqlMode = '';
    const handle = async (stmt: Buffer): Promise<void> => {
      const kind = classifyStatement(stmt);
      switch (kind) {
        case 'insert':
          if (file.withRows) await this.dispatch(stmt, file.table, (n) => (result.rows += n));
          return;
        case 'create-table':
          await this.ddlQuery(stmt.toString('utf8'), `creating table ${file.table}`);
          return;
        case 'trigger-mode':
          sqlMode = triggerSqlMode(stmt.toString('utf8'));
          return;
        case 'create-trigger': {
          const create = stmt.toString('utf8');
          result.triggers.push({ name: createdName(create, 'TRIGGER') ?? '?', table: file.table, sqlMode, create });
          return;
        }
        case 'other':
          await this.drain();
          await this.ddlQuery(stmt.toString('utf8'), `loading ${file.table}`);
          return;
        default:
          // Session settings (every connection has them already), DROP TABLE/TRIGGER in a fresh database.
          return;
      }
    };
    const input = createReadStream(file.path, { highWaterMark: READ_CHUNK });
    const gunzip = file.compressed ? createGunzip({ chunkSize: READ_CHUNK }) : null;
    if (gunzip) input.on('error', (err) => gunzip.destroy(err));
    const stream = gunzip ? input.pipe(gunzip) : input;
    try {
      for await (const chunk of stream) {
        for (const stmt of splitter.push(chunk as Buffer)) await handle(stmt);
      }
      for (const stmt of splitter.end()) await handle(stmt);
    } catch (err) {
      input.destroy();
      gunzip?.destroy();
      if (err instanceof DatabaseError) throw err;
      throw new StoreError(`cannot read ${file.path}: ${errorMessage(err)}`, { cause: err });
    }
    return result;
  }

  async ddlQuery(sql: string, context: string): Promise<void> {
    try {
      await this.ddl.query(sql);
    } catch (err) {
      throw new DatabaseError(`${context}: ${serverMessage((err as { cause?: unknown }).cause ?? err)}`, { cause: err });
    }
  }

  private takeWorker(): Promise<Worker> {
    const w = this.idle.pop();
    if (w) return Promise.resolve(w);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(w: Worker): void {
    const next = this.waiting.shift();
    if (next) next(w);
    else this.idle.push(w);
  }

  /** Hands a statement to the next free connection; waits only for one to be free. */
  private async dispatch(stmt: Buffer, table: string, onRows: (n: number) => void): Promise<void> {
    if (this.failure) throw this.failure;
    const w = await this.takeWorker();
    if (this.failure) {
      this.release(w);
      throw this.failure;
    }
    const sql = stmt.toString('utf8');
    const job = (async () => {
      try {
        onRows(await execute(w.db.raw, sql));
        w.uncommitted += stmt.length;
        if (w.uncommitted >= COMMIT_BYTES) {
          await w.db.query('COMMIT');
          w.uncommitted = 0;
        }
      } catch (err) {
        // Never the statement in the message: it is row data.
        this.failure ??= new DatabaseError(`loading rows of table ${table}: ${serverMessage((err as { cause?: unknown }).cause ?? err)}`, { cause: err });
      } finally {
        this.release(w);
      }
    })();
    this.inFlight.add(job);
    void job.then(() => this.inFlight.delete(job));
  }

  /** Waits for every statement handed over; throws the first failure. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
    if (this.failure) throw this.failure;
  }

  /** Waits for every statement and commits every loading transaction. */
  async finish(): Promise<void> {
    await this.drain();
    for (const w of this.workers) {
      await w.db.query('COMMIT');
      w.uncommitted = 0;
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.ddl, ...this.workers.map((w) => w.db)].map((d) => d.close()));
  }

  /** Cuts every connection (error path: in-flight statements die with them). */
  destroy(): void {
    for (const d of [this.ddl, ...this.workers.map((w) => w.db)]) d.destroy();
  }
}

function execute(raw: Connection, sql: string): Promise<number> {
  return new Promise((resolve, reject) => {
    raw.query(sql, (err, res) => {
      if (err) reject(err);
      else resolve((res as { affectedRows?: number }).affectedRows ?? 0);
    });
  });
}
