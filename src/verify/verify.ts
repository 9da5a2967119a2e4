/**
 * `schema_backup verify`: proves the newest backup restores. It is restored
 * (host files plus `latest`) into a scratch database on the same server, and
 * every table is compared with the manifest: structure (SHOW CREATE TABLE
 * against the backup's CREATE TABLE, modulo the AUTO_INCREMENT counter), row
 * count, and the content checksum, recomputed by dumping the restored table
 * exactly as the backup did. The scratch database is a fresh `sbverify_*`
 * (dropped on every path), or the one named by `--database`/`verify_database:`
 * (for users that cannot create databases: it must be empty or missing, and
 * what verify restored there is removed on every path). A verify that cannot
 * run (privileges, a scratch database in use) throws: that is not the backup's fault.
 */
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { SummaryClass } from '../domain/summary';
import type { BackupConfig, DbCredentials } from '../config/types';
import { connect, type Db } from '../db/connect';
import { describeTables, showCreateTable } from '../db/introspect';
import { prepareSession } from '../db/snapshot';
import { dumpRows } from '../dump/rows';
import { ROWS_MARKER, withoutAutoIncrementCounter } from '../dump/structure';
import { PrivilegeError, RefusalError, errorMessage } from '../errors';
import type { Logger } from '../log';
import type { Quiescer } from '../services/types';
import type { QuiesceReport } from '../domain/service-report';
import { FileSink } from '../store/file-sink';
import { runRestore, scratchName } from '../restore/run';
import { readBackupSource, type BackupSource, type SourceTable } from '../restore/source';
import { StatementSplitter } from '../restore/split';
import { dropDatabaseSql, dropTablesSql, schemaExists, schemaObjects } from '../restore/sql';
import { classifyStatement } from '../restore/statements';
import { NO_FOREIGN_KEY_CHECKS_SQL, dropViewsSql, rowCountSql, triggerNames, viewNames } from './sql';

export interface VerifyRow {
  table: string;
  class: SummaryClass;
  structure: 'ok' | 'differs' | 'missing';
  /** Rows the manifest records (null: rows not saved, the table must be empty). */
  expectedRows: number | null;
  rows: number | null;
  /** 'ok', 'differs', or '-' when the backup holds no rows for the table. */
  content: 'ok' | 'differs' | '-';
  ok: boolean;
}

export interface VerifyResult {
  ok: boolean;
  hostDir: string;
  snapshot: string | null;
  scratchDatabase: string;
  /** The scratch database was given (kept, emptied) rather than created and dropped. */
  scratchKept: boolean;
  tables: VerifyRow[];
  /** Views and triggers of the manifest missing after the restore. */
  missing: string[];
  /** Why the backup did not restore at all (a file differing from its manifest, a failing statement), or null. */
  error: string | null;
  durationMs: number;
}

/** Verify touches no service: the scratch database is not what consumers use. */
function onlineQuiescer(): Quiescer {
  const report: QuiesceReport = { mode: 'online', stopped: [], alreadyStopped: [], restarted: [], restartFailures: [], providersRestarted: [], downtimeMs: null };
  return { quiesce: async () => undefined, release: async () => undefined, resume: async () => undefined, report: () => report };
}

const isCreate = (stmt: Buffer): boolean => ['create-table', 'create-sequence'].includes(classifyStatement(stmt));

/** The CREATE TABLE (or CREATE SEQUENCE) statement of a backup file (read up to it, not further). */
export async function backupCreateTable(path: string, compressed: boolean): Promise<string | null> {
  const input = createReadStream(path, { highWaterMark: 1 << 16 });
  const gunzip = compressed ? createGunzip() : null;
  if (gunzip) input.on('error', (err) => gunzip.destroy(err));
  const stream = gunzip ? input.pipe(gunzip) : input;
  const splitter = new StatementSplitter();
  try {
    for await (const chunk of stream) {
      for (const stmt of splitter.push(chunk as Buffer)) {
        if (isCreate(stmt)) return stmt.toString('utf8');
        if (classifyStatement(stmt) === 'insert') return null;
      }
    }
    for (const stmt of splitter.end()) if (isCreate(stmt)) return stmt.toString('utf8');
    return null;
  } finally {
    input.destroy();
    gunzip?.destroy();
  }
}

/** The backup file's text up to and including its rows marker, uncompressed; null when it has none. */
export async function backupHead(path: string, compressed: boolean): Promise<Buffer | null> {
  const input = createReadStream(path, { highWaterMark: 1 << 16 });
  const gunzip = compressed ? createGunzip() : null;
  if (gunzip) input.on('error', (err) => gunzip.destroy(err));
  const stream = gunzip ? input.pipe(gunzip) : input;
  const marker = Buffer.from(`\n${ROWS_MARKER}`);
  const seen: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of stream) {
      seen.push(chunk as Buffer);
      length += (chunk as Buffer).length;
      const text = Buffer.concat(seen, length);
      const at = text.indexOf(marker);
      if (at >= 0) return text.subarray(0, at + marker.length);
      if (length > HEAD_LIMIT) return null;
    }
    return null;
  } finally {
    input.destroy();
    gunzip?.destroy();
  }
}

/** A CREATE TABLE is far below this; a file without a rows marker within it has no rows section. */
const HEAD_LIMIT = 16 << 20;

/** The content checksum of a restored table, as the backup computed it: the backup file's head, then the rows. */
async function contentSha256(db: Db, detail: Parameters<typeof dumpRows>[1], head: Buffer, statementBytes: number): Promise<string | null> {
  const sink = await FileSink.open(null);
  sink.push(head);
  sink.startRows();
  await dumpRows(db, detail, sink, { statementBytes });
  sink.endRows();
  return (await sink.finish()).contentSha256;
}

async function compareTable(db: Db, t: SourceTable, details: Awaited<ReturnType<typeof describeTables>>): Promise<VerifyRow> {
  const row: VerifyRow = { table: t.table, class: t.class, structure: 'missing', expectedRows: t.rowsSaved ? t.rows : null, rows: null, content: '-', ok: false };
  const detail = details.get(t.table);
  if (!detail) return row;
  const backup = await backupCreateTable(t.path, t.compressed);
  const restored = withoutAutoIncrementCounter(await showCreateTable(db, t.table));
  row.structure = backup !== null && withoutAutoIncrementCounter(backup) === restored ? 'ok' : 'differs';
  // A system-versioned table's manifest counts its history rows too.
  row.rows = Number((await db.queryArrays(rowCountSql(t.table, detail.versioning !== undefined)))[0]?.[0]);
  // A backup of the earlier row-per-line layout cannot be re-rendered: its rows are checked by count only.
  if (t.rowsSaved && t.contentSha256 !== null && t.statementBytes !== null) {
    const head = await backupHead(t.path, t.compressed);
    row.content = head !== null && (await contentSha256(db, detail, head, t.statementBytes)) === t.contentSha256 ? 'ok' : 'differs';
  }
  // A sequence always holds its one row (its state): without saved rows, the fresh one its CREATE SEQUENCE makes.
  const sequence = backup !== null && classifyStatement(backup) === 'create-sequence';
  row.ok = row.structure === 'ok' && row.rows === (row.expectedRows ?? (sequence ? 1 : 0)) && row.content !== 'differs';
  return row;
}

/** Removes what a verify restored into a scratch database it keeps: the backup's tables and views (it held none of them before). */
async function emptyScratch(db: Db, scratch: string, source: BackupSource): Promise<void> {
  const rows = await db.queryArrays(...schemaObjects(scratch));
  const ours = new Set([...source.tables.map((t) => t.table), ...(source.views?.names ?? [])]);
  const views = rows.filter(([n, t]) => t === 'VIEW' && ours.has(n as string)).map(([n]) => n as string);
  const tables = rows.filter(([n, t]) => t !== 'VIEW' && ours.has(n as string)).map(([n]) => n as string);
  if (views.length) await db.query(dropViewsSql(scratch, views));
  await db.query(NO_FOREIGN_KEY_CHECKS_SQL);
  if (tables.length) await db.query(dropTablesSql(scratch, tables));
}

export interface VerifyOptions {
  /** Restore into this database (must be empty or missing) instead of a fresh `sbverify_*`. */
  database?: string | null;
}

export async function verifyLatest(config: BackupConfig, credentials: DbCredentials, hostName: string, log: Logger, options: VerifyOptions = {}): Promise<VerifyResult> {
  const started = Date.now();
  const given = options.database ?? config.verifyDatabase;
  const scratch = given ?? scratchName('sbverify');
  const hostDir = `${config.csv2BackupDir}/${hostName}`;
  const result: VerifyResult = { ok: false, hostDir, snapshot: null, scratchDatabase: scratch, scratchKept: false, tables: [], missing: [], error: null, durationMs: 0 };
  // The server must answer: that failure is the database's (exit 4), not the backup's.
  const probe = await connect({ ...credentials, database: '' });
  try {
    result.scratchKept = given !== null && (await probe.queryArrays(...schemaExists(scratch))).length > 0;
  } finally {
    await probe.close();
  }
  let source: BackupSource | null = null;
  // Cleared when the restore refused before touching anything: what the scratch database holds then is not ours.
  let clean = true;
  try {
    source = await readBackupSource({ hostDir, userDataDir: config.userDataBackupDir, snapshot: 'latest' });
    result.snapshot = source.snapshotName;
    try {
      await runRestore(
        { config, credentials, hostName, snapshot: 'latest', database: scratch, tables: null, only: null, mode: 'empty', dryRun: false, definer: 'keep' },
        { log, quiescer: onlineQuiescer() },
      );
    } catch (err) {
      if (err instanceof PrivilegeError || err instanceof RefusalError) clean = false;
      if (err instanceof PrivilegeError) throw new PrivilegeError(`verify cannot use the scratch database ${scratch}: ${err.message}${given ? '' : ' Or name a database this user may use: --database NAME or verify_database: in schema_backup.conf.'}`, { cause: err });
      if (err instanceof RefusalError) throw new RefusalError(`verify needs an empty scratch database: ${err.message}`, { cause: err });
      result.error = errorMessage(err);
      log.error('backup did not restore', { hostDir, error: result.error });
      return result;
    }
    const db = await connect({ ...credentials, database: scratch });
    try {
      await prepareSession(db);
      const details = await describeTables(db);
      for (const t of source.tables) result.tables.push(await compareTable(db, t, details));
      const views = new Set((await db.queryArrays(...viewNames(scratch))).map((r) => r[0] as string));
      for (const v of source.views?.names ?? []) if (!views.has(v)) result.missing.push(`view ${v}`);
      const triggers = new Set((await db.queryArrays(...triggerNames(scratch))).map((r) => r[0] as string));
      for (const t of source.tables) for (const name of t.triggers) if (!triggers.has(name)) result.missing.push(`trigger ${name}`);
    } finally {
      await db.close();
    }
    result.ok = result.tables.every((t) => t.ok) && result.missing.length === 0;
    for (const t of result.tables.filter((x) => !x.ok)) log.error('table did not verify', { table: t.table, structure: t.structure, rows: t.rows, expectedRows: t.expectedRows, content: t.content });
    return result;
  } catch (err) {
    if (err instanceof PrivilegeError || err instanceof RefusalError) throw err;
    result.error ??= errorMessage(err);
    return result;
  } finally {
    const admin = clean ? await connect({ ...credentials, database: '' }).catch(() => null) : null;
    // No admin connection when the restore refused (clean false): the scratch database is then left alone.
    const cleanup = !admin ? undefined : result.scratchKept ? (source ? emptyScratch(admin, scratch, source) : undefined) : admin.query(dropDatabaseSql(scratch));
    if (admin) await Promise.resolve(cleanup).catch((err) => log.warn('could not clean up the scratch database', { database: scratch, error: errorMessage(err) }));
    await admin?.close();
    result.durationMs = Date.now() - started;
  }
}

/** The table of results, one line per table. */
export function verifyText(r: VerifyResult): string {
  const lines: string[] = [];
  const head = ['table', 'class', 'structure', 'rows', 'expected', 'content', 'result'];
  const body = r.tables.map((t) => [t.table, t.class, t.structure, t.rows === null ? '-' : String(t.rows), t.expectedRows === null ? '-' : String(t.expectedRows), t.content, t.ok ? 'ok' : 'FAILED']);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd();
  lines.push(`verify ${r.hostDir}${r.snapshot ? ` + user-data snapshot ${r.snapshot}` : ''} in scratch database ${r.scratchDatabase} (${r.scratchKept ? 'emptied' : 'dropped'})`);
  if (r.tables.length) lines.push(fmt(head), ...body.map(fmt));
  for (const m of r.missing) lines.push(`missing after restore: ${m}`);
  if (r.error) lines.push(`backup did not restore: ${r.error}`);
  const failed = r.tables.filter((t) => !t.ok).map((t) => t.table);
  lines.push(r.ok ? `verify: OK (${r.tables.length} tables) in ${(r.durationMs / 1000).toFixed(1)} s` : `verify: FAILED${failed.length ? ` (${failed.join(', ')})` : ''}`);
  return lines.join('\n') + '\n';
}
