/**
 * `schema_backup export --sqlite FILE`: one backup (the host directory and a
 * user-data snapshot) as one SQLite file, without a database server. Steps:
 * read the manifests, check every file against them, read and parse every
 * table's structure, then stream each file's rows into the SQLite file (one
 * transaction, one reused row array: memory stays flat), keep triggers and
 * views as text, record where it all came from, and rename the file into place.
 */
import { progress } from '../dump/progress';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { BackupConfig } from '../config/types';
import { RefusalError, VerifyError, errorMessage } from '../errors';
import type { Logger } from '../log';
import { checkFiles, readBackupSource, type BackupSource, type SourceTable } from '../restore/source';
import { classifyStatement, createdName, triggerSqlMode } from '../restore/statements';
import { splitStatements } from '../restore/split';
import { MANIFEST_FILE } from '../store/names';
import { parseCreateTable, type TableDef } from './create-table';
import { ExportFile } from './export-file';
import { fileStatements, readCreateTable } from './file-statements';
import { EXPORT_FORMAT, nameProblems, sqliteTable, type SqliteTable } from './schema';
import type { Codec } from './type-map';
import { RowLineDecoder } from './row-stream';
import type { SqliteValue } from './values';

export interface ExportRequest {
  config: BackupConfig;
  hostName: string;
  /** `latest` or YYYYmmddHHMMSS. */
  snapshot: string;
  /** The SQLite file to write (replaced if it exists). */
  file: string;
}

export interface ExportSummary {
  file: string;
  hostDir: string;
  snapshot: string | null;
  tables: number;
  rows: number;
  views: number;
  triggers: number;
  /** Foreign keys, defaults or keys SQLite could not take, and rows breaking a kept foreign key. */
  warnings: string[];
}

/** A table's file holding this many bytes or more is announced (there is no progress bar yet). */
const LARGE_TABLE_BYTES = 64 << 20;

async function sha256OfManifest(dir: string | null): Promise<string | null> {
  if (!dir) return null;
  return createHash('sha256').update(await fs.readFile(join(dir, MANIFEST_FILE))).digest('hex');
}

/** Step 1: every file the export reads, checked against its manifest before anything is written. */
async function checkSource(source: BackupSource): Promise<void> {
  const files = source.tables.map((t) => ({ path: t.path, sha256: t.sha256 }));
  if (source.views) files.push({ path: source.views.path, sha256: source.views.sha256 });
  const bad = await checkFiles(files);
  if (bad.length) throw new VerifyError(`backup files differ from their manifest; nothing was exported:\n${bad.map((b) => `  ${b.path}: ${b.problem}`).join('\n')}`);
}

/** Step 2: each table's structure, parsed; throws naming the file it cannot read. */
async function readStructures(source: BackupSource): Promise<Map<string, { def: TableDef; create: string }>> {
  const out = new Map<string, { def: TableDef; create: string }>();
  for (const t of source.tables) {
    const create = await readCreateTable(t.path, t.compressed);
    if (create === null) throw new VerifyError(`${t.path}: no CREATE TABLE statement; nothing was exported`);
    let def: TableDef;
    try {
      def = parseCreateTable(create);
    } catch (err) {
      throw new VerifyError(`${t.path}: cannot read its CREATE TABLE: ${errorMessage(err)}; nothing was exported`);
    }
    if (def.name !== t.table) throw new VerifyError(`${t.path}: creates table ${def.name}, not ${t.table}; nothing was exported`);
    out.set(t.table, { def, create });
  }
  const problems = nameProblems([...out.keys()]);
  if (problems.length) throw new RefusalError(`these tables cannot be exported to SQLite: ${problems.join('; ')}`);
  return out;
}

/** For each position of an INSERT's values: the codec of its column, or null for a generated one (written DEFAULT). */
function statementCodecs(table: SqliteTable, def: TableDef, columns: string[] | null): (Codec | null)[] {
  const stored = new Map(table.columns.map((c) => [c.def.name.toLowerCase(), c.mapping.codec]));
  if (columns === null) return def.columns.map((c) => (c.generated ? null : (stored.get(c.name.toLowerCase()) as Codec)));
  const listed = columns.map((c) => c.toLowerCase());
  if (listed.length !== stored.size || !listed.every((c) => stored.has(c))) throw new Error('its column list is not the table\'s stored columns');
  return listed.map((c) => stored.get(c) as Codec);
}

/** Step 3: one table file into the SQLite file: its rows (when saved) and its triggers. */
async function exportTable(out: ExportFile, t: SourceTable, def: TableDef, create: string, table: SqliteTable, log: Logger): Promise<{ rows: number; triggers: number }> {
  out.createTable(table);
  const insertRow = out.rowInserter(table);
  const bytes = (await fs.stat(t.path)).size;
  if (bytes >= LARGE_TABLE_BYTES) log.info('exporting a large table', { table: t.table, bytes, rows: t.rows });
  // A column list names columns by name: values are put in the table's stored-column order.
  const order = table.columns.map((c) => c.def.name.toLowerCase());
  const values = new Array<SqliteValue>(order.length);
  let listed: number[] = [];
  const decoder = new RowLineDecoder(
    (head) => {
      if (head.table !== t.table) throw new Error(`it writes table ${head.table}`);
      listed = head.columns?.map((c) => order.indexOf(c.toLowerCase())) ?? [];
      return statementCodecs(table, def, head.columns);
    },
    (v) => {
      if (listed.length === 0) return insertRow(v);
      for (let i = 0; i < listed.length; i++) values[listed[i] as number] = v[i] as SqliteValue;
      insertRow(values);
    },
  );
  let triggers = 0;
  let sqlMode: string | null = null;
  const { statements, sha256 } = fileStatements(t.path, t.compressed, (bytes) => progress.loaded(bytes));
  let n = 0;
  for await (const item of statements) {
    if (!Buffer.isBuffer(item)) {
      if (item.start) n++;
      if (!t.rowsSaved) continue;
      try {
        decoder.push(item.piece, item.start, item.end);
      } catch (err) {
        throw new VerifyError(`${t.path}, statement ${n}: cannot read its rows: ${errorMessage(err)}; nothing was exported`);
      }
      continue;
    }
    n++;
    const kind = classifyStatement(item);
    if (kind === 'insert') throw new VerifyError(`${t.path}, statement ${n}: an INSERT outside the rows section; nothing was exported`);
    if (kind === 'trigger-mode') sqlMode = triggerSqlMode(item.toString('utf8'));
    else if (kind === 'create-trigger') {
      const definition = item.toString('utf8');
      out.recordObject({ kind: 'trigger', name: createdName(definition, 'TRIGGER') ?? '?', table: t.table, position: ++triggers, sqlMode, definition });
    }
  }
  const rows = decoder.rows;
  // The check before reading proved the file; this proves that what was read is that file.
  if (sha256() !== t.sha256) throw new VerifyError(`${t.path} changed while it was exported (sha256 differs from the manifest); nothing was exported`);
  if (t.rowsSaved && t.rows !== null && rows !== t.rows) {
    throw new VerifyError(`${t.path}: holds ${rows} rows, its manifest says ${t.rows}; nothing was exported`);
  }
  out.createIndexes(table);
  out.recordTable({
    name: t.table,
    class: t.class,
    origin: t.origin,
    rowsSaved: t.rowsSaved,
    rows: t.rowsSaved ? rows : null,
    createTable: create,
    sourceSha256: t.sha256,
    notes: table.notes,
  });
  if (bytes >= LARGE_TABLE_BYTES) log.info('table exported', { table: t.table, rows });
  return { rows, triggers };
}

/** Step 4: the views, as their CREATE VIEW text, in the file's (dependency) order. */
async function exportViews(out: ExportFile, source: BackupSource): Promise<number> {
  if (!source.views) return 0;
  const text = await fs.readFile(source.views.path);
  const actual = createHash('sha256').update(text).digest('hex');
  if (actual !== source.views.sha256) throw new VerifyError(`${source.views.path} changed while it was exported; nothing was exported`);
  let position = 0;
  for (const definition of splitStatements(text)) {
    if (classifyStatement(definition) !== 'create-view') continue;
    out.recordObject({ kind: 'view', name: createdName(definition, 'VIEW') ?? '?', table: null, position: ++position, sqlMode: null, definition });
  }
  return position;
}

export async function exportToSqlite(req: ExportRequest, deps: { log: Logger; now?: () => Date }): Promise<ExportSummary> {
  const { log } = deps;
  const hostDir = join(req.config.csv2BackupDir, req.hostName);
  const source = await readBackupSource({ hostDir, userDataDir: req.config.userDataBackupDir, snapshot: req.snapshot });
  if (req.config.userDataBackupDir && !source.snapshotName) log.warn('no user-data snapshot: local tables are exported without rows', { dir: req.config.userDataBackupDir });
  await checkSource(source);
  const structures = await readStructures(source);
  const defs = new Map([...structures].map(([name, s]) => [name, s.def]));
  const tables = new Map([...structures].map(([name, s]) => [name, sqliteTable(s.def, defs)]));

  const summary: ExportSummary = { file: req.file, hostDir, snapshot: source.snapshotName, tables: 0, rows: 0, views: 0, triggers: 0, warnings: [] };
  // Progress by the bytes of backup files read (a terminal line, or log lines: src/cli/progress-view.ts).
  progress.loadPlanned((await Promise.all(source.tables.map((t) => fs.stat(t.path).then((st) => st.size, () => 0)))).reduce((a, b) => a + b, 0), 'exporting');
  const out = await ExportFile.create(req.file);
  try {
    for (const t of source.tables) {
      const s = structures.get(t.table) as { def: TableDef; create: string };
      const table = tables.get(t.table) as SqliteTable;
      const done = await exportTable(out, t, s.def, s.create, table, log);
      summary.tables++;
      summary.rows += done.rows;
      summary.triggers += done.triggers;
      // A generated column is left out by design; anything else lost is worth a warning.
      for (const note of table.notes) if (!note.startsWith('generated column')) summary.warnings.push(`${t.table}: ${note}`);
    }
    summary.views = await exportViews(out, source);
    const host = JSON.parse(await fs.readFile(join(hostDir, MANIFEST_FILE), 'utf8')) as { statementBytes?: number };
    out.recordMeta({
      format: EXPORT_FORMAT,
      source_host: req.hostName,
      source_database: source.database,
      host_dir: hostDir,
      snapshot: source.snapshotName,
      exported_at: (deps.now ?? (() => new Date()))().toISOString(),
      host_manifest_sha256: await sha256OfManifest(hostDir),
      user_manifest_sha256: await sha256OfManifest(source.snapshotDir),
      statement_bytes: host.statementBytes !== undefined ? String(host.statementBytes) : null,
    });
    for (const v of out.foreignKeyViolations()) {
      summary.warnings.push(`${v.table}: ${v.count} row(s) refer to rows of ${v.parent} that the backup does not hold`);
    }
    const localRows = source.tables.some((t) => t.origin === 'user' && t.rowsSaved);
    await out.finish(localRows ? 0o600 : 0o644);
  } catch (err) {
    await out.abort();
    throw err;
  } finally {
    progress.loadPlanned(0);
  }
  for (const w of summary.warnings) log.warn('export: not kept in SQLite', { detail: w });
  return summary;
}

export function exportSummaryText(s: ExportSummary): string {
  return [
    `exported ${s.hostDir}${s.snapshot ? ` and user-data snapshot ${s.snapshot}` : ''}`,
    `  to: ${s.file}`,
    `  tables ${s.tables} (${s.rows} rows), triggers ${s.triggers}, views ${s.views}`,
    ...s.warnings.map((w) => `  not kept in SQLite: ${w}`),
    '',
  ].join('\n');
}
