/**
 * An SQLite export turned back into a backup (`schema_restore --from-sqlite`):
 * the host directory and user-data snapshot it came from, regenerated in a
 * private directory in schema_backup's own format, with manifests, so the
 * normal restore loads it with all its checks and options. Structure comes
 * from the original CREATE TABLE text kept in the file, so it is exact; rows
 * are read back in the order they were stored and rendered as the backup
 * renders them (values.ts). Memory stays flat: rows are streamed to the files.
 */
import { createHash, type Hash } from 'node:crypto';
import { createWriteStream, promises as fs, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { checkHostName } from '../config/host-name';
import type { SummaryClass } from '../domain/summary';
import type { DbTrigger } from '../db/schema';
import { quoteIdent } from '../db/quote';
import { viewsText } from '../dump/structure';
import { tableFileText } from '../dump/table-file';
import { CLIENT_PACKET_BYTES, statementLimit } from '../dump/tuples';
import { StoreError, VerifyError, errorMessage } from '../errors';
import { renderManifest, type Manifest, type ManifestTable } from '../store/manifest';
import { MANIFEST_FILE, VIEWS_FILE, tableFileName } from '../store/names';
import { isSnapshotName } from '../domain/snapshot-name';
import { parseCreateTable, type TableDef } from './create-table';
import { EXPORT_FORMAT, META_TABLE, OBJECTS_TABLE, TABLES_TABLE, sqliteIdent, sqliteTable, type SqliteTable } from './schema';
import { sqlLiteral, type SqliteValue } from './values';

export interface MaterializedBackup {
  /** csv2_backup_dir of the regenerated backup (holds `<hostName>/`). */
  csv2BackupDir: string;
  /** user_data_backup_dir (holds `<snapshot>/`), or null when the export had no snapshot. */
  userDataBackupDir: string | null;
  hostName: string;
  snapshot: string | null;
  database: string;
  tables: number;
}

interface TableRow {
  name: string;
  class: string;
  origin: string;
  rows_saved: number;
  create_table: string;
}

interface ObjectRow {
  kind: string;
  name: string;
  table_name: string | null;
  sql_mode: string | null;
  definition: string;
}

/** Flush rendered rows to the file in pieces of about this size. */
const WRITE_PIECE = 1 << 20;

/** A file being written with its hashes; waits for the disk when the stream's buffer is full. */
class HashedFile {
  private readonly all: Hash = createHash('sha256');
  private readonly content: Hash = createHash('sha256');
  private contentOpen = true;
  private readonly stream: WriteStream;
  private failure: Error | null = null;

  constructor(readonly path: string, mode: number) {
    this.stream = createWriteStream(path, { mode, flags: 'wx' });
    this.stream.on('error', (err) => (this.failure = err));
  }

  async write(text: string): Promise<void> {
    if (this.failure) throw this.failure;
    const bytes = Buffer.from(text, 'utf8');
    this.all.update(bytes);
    if (this.contentOpen) this.content.update(bytes);
    if (!this.stream.write(bytes)) await new Promise<void>((resolve, reject) => {
      this.stream.once('drain', resolve);
      this.stream.once('error', reject);
    });
  }

  /** The end of head and rows: what follows (triggers, footer) is not part of contentSha256. */
  endContent(): string {
    this.contentOpen = false;
    return this.content.digest('hex');
  }

  async close(): Promise<string> {
    await new Promise<void>((resolve, reject) => this.stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
    if (this.failure) throw this.failure;
    return this.all.digest('hex');
  }
}

/**
 * The INSERT layout of the backup for this table: without a column list, every
 * column in order and DEFAULT for a generated one; with INVISIBLE columns, the
 * stored columns by name (as src/dump/literals.ts decides).
 */
function insertLayout(def: TableDef, table: SqliteTable): { prefix: string; render: (row: SqliteValue[]) => string } {
  const codecs = table.columns.map((c) => c.mapping.codec);
  const named = def.columns.some((c) => c.invisible);
  const prefix = `INSERT INTO ${quoteIdent(def.name)}${named ? ` (${table.columns.map((c) => quoteIdent(c.def.name)).join(',')})` : ''} VALUES `;
  if (named) return { prefix, render: (row) => `(${row.map((v, i) => sqlLiteral(v, codecs[i] as never)).join(',')})` };
  // Positions of the row's values among all columns (-1: a generated column).
  const slots: number[] = [];
  let k = 0;
  for (const c of def.columns) slots.push(c.generated ? -1 : k++);
  return {
    prefix,
    render: (row) => {
      let out = '(';
      for (let i = 0; i < slots.length; i++) {
        if (i > 0) out += ',';
        const s = slots[i] as number;
        out += s < 0 ? 'DEFAULT' : sqlLiteral(row[s] as SqliteValue, codecs[s] as never);
      }
      return `${out})`;
    },
  };
}

/** Writes the rows of `table` as INSERT statements of at most `limit` bytes; returns the row count. */
async function writeRows(db: Database.Database, def: TableDef, table: SqliteTable, file: HashedFile, limit: number): Promise<number> {
  const { prefix, render } = insertLayout(def, table);
  const prefixBytes = Buffer.byteLength(prefix);
  const select = db
    .prepare(`SELECT ${table.columns.map((c) => sqliteIdent(c.def.name)).join(', ')} FROM ${sqliteIdent(def.name)} ORDER BY rowid`)
    .raw(true)
    .safeIntegers(true);
  let rows = 0;
  let statementBytes = 0;
  let piece = '';
  // better-sqlite3 iterates synchronously: rows are rendered into pieces, written with backpressure between them.
  for (const row of select.iterate() as IterableIterator<SqliteValue[]>) {
    let tuple: string;
    try {
      tuple = render(row);
    } catch (err) {
      throw new VerifyError(`table ${def.name}, row ${rows + 1} of the SQLite file: ${errorMessage(err)}; nothing was restored`);
    }
    const len = Buffer.byteLength(tuple);
    if (statementBytes > 0 && statementBytes + 1 + len + 1 > limit) {
      piece += ';\n';
      statementBytes = 0;
    }
    if (statementBytes === 0) {
      piece += prefix + tuple;
      statementBytes = prefixBytes + len;
    } else {
      piece += `,${tuple}`;
      statementBytes += 1 + len;
    }
    rows++;
    if (piece.length >= WRITE_PIECE) {
      await file.write(piece);
      piece = '';
    }
  }
  if (statementBytes > 0) piece += ';\n';
  if (piece) await file.write(piece);
  return rows;
}

function readMeta(db: Database.Database, path: string): Map<string, string | null> {
  let rows: { key: string; value: string | null }[];
  try {
    rows = db.prepare(`SELECT key, value FROM ${META_TABLE}`).all() as { key: string; value: string | null }[];
  } catch (err) {
    throw new VerifyError(`${path} is not a schema_backup SQLite export (${errorMessage(err)})`);
  }
  const meta = new Map(rows.map((r) => [r.key, r.value]));
  if (meta.get('format') !== EXPORT_FORMAT) throw new VerifyError(`${path}: export format ${meta.get('format') ?? '(none)'} is not ${EXPORT_FORMAT}, which this version reads`);
  return meta;
}

/** Regenerates the backup held by the SQLite file `file` under `dir` (which must exist, private and empty). */
export async function materializeBackup(file: string, dir: string): Promise<MaterializedBackup> {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new StoreError(`cannot open SQLite file ${file}: ${errorMessage(err)}`, { cause: err });
  }
  try {
    const meta = readMeta(db, file);
    const hostName = checkHostName(meta.get('source_host') ?? '', `the source_host of ${file}`);
    const database = meta.get('source_database') ?? '';
    const snapshot = meta.get('snapshot') ?? null;
    if (snapshot !== null && !isSnapshotName(snapshot)) throw new VerifyError(`${file}: snapshot ${JSON.stringify(snapshot)} is not a YYYYmmddHHMMSS name`);
    const limit = Number(meta.get('statement_bytes') ?? statementLimit(CLIENT_PACKET_BYTES));
    if (!Number.isInteger(limit) || limit < 1024) throw new VerifyError(`${file}: statement_bytes ${meta.get('statement_bytes')} is not a usable statement size`);

    const csv2BackupDir = join(dir, 'csv2');
    const hostDir = join(csv2BackupDir, hostName);
    const userDataBackupDir = snapshot ? join(dir, 'user') : null;
    const snapshotDir = snapshot && userDataBackupDir ? join(userDataBackupDir, snapshot) : null;
    await fs.mkdir(join(hostDir, '.schema_backup'), { recursive: true, mode: 0o700 });
    if (snapshotDir) await fs.mkdir(join(snapshotDir, '.schema_backup'), { recursive: true, mode: 0o700 });

    const tableRows = db.prepare(`SELECT name, class, origin, rows_saved, create_table FROM ${TABLES_TABLE} ORDER BY name`).all() as TableRow[];
    const objects = db.prepare(`SELECT kind, name, table_name, sql_mode, definition FROM ${OBJECTS_TABLE} ORDER BY kind, table_name, position`).all() as ObjectRow[];
    const defs = new Map<string, TableDef>();
    for (const t of tableRows) {
      try {
        defs.set(t.name, parseCreateTable(t.create_table));
      } catch (err) {
        throw new VerifyError(`${file}: cannot read the CREATE TABLE of ${t.name}: ${errorMessage(err)}`);
      }
    }
    const hostManifest: Manifest = { format: 1, kind: 'host', database, compressed: false, statementBytes: limit, tables: [], views: null, triggers: [] };
    const userManifest: Manifest = { format: 1, kind: 'user', database, compressed: false, statementBytes: limit, tables: [], views: null, triggers: [] };

    const writeTable = async (t: TableRow, where: string, withRows: boolean, triggers: DbTrigger[]): Promise<ManifestTable> => {
      const def = defs.get(t.name) as TableDef;
      const table = sqliteTable(def, defs);
      const text = tableFileText(t.name, t.create_table, triggers, withRows);
      const name = tableFileName(t.name);
      const out = new HashedFile(join(where, name), 0o600);
      await out.write(text.head);
      let rows: number | null = null;
      try {
        rows = withRows ? await writeRows(db, def, table, out, limit) : null;
      } catch (err) {
        await out.close().catch(() => undefined);
        if (err instanceof VerifyError) throw err;
        throw new VerifyError(`${file}: cannot read the rows of table ${t.name}: ${errorMessage(err)}`);
      }
      const contentSha256 = out.endContent();
      await out.write(text.tail);
      const sha256 = await out.close();
      return {
        table: t.name,
        file: name,
        class: t.class as SummaryClass,
        rowsSaved: withRows,
        rows,
        structureSha256: text.structureSha256,
        sha256,
        contentSha256: withRows ? contentSha256 : null,
        transactional: /\)\s*ENGINE=InnoDB\b/i.test(t.create_table),
      };
    };

    for (const t of tableRows) {
      const triggers: DbTrigger[] = objects
        .filter((o) => o.kind === 'trigger' && o.table_name === t.name)
        .map((o) => ({ name: o.name, table: t.name, createStatement: o.definition, sqlMode: o.sql_mode ?? '' }));
      for (const tr of triggers) hostManifest.triggers.push({ table: t.name, name: tr.name });
      const local = t.origin === 'user' && snapshotDir !== null;
      hostManifest.tables.push(await writeTable(t, hostDir, !local && t.rows_saved === 1, triggers));
      if (local) userManifest.tables.push(await writeTable(t, snapshotDir, t.rows_saved === 1, triggers));
    }
    const views = objects.filter((o) => o.kind === 'view');
    if (views.length) {
      const text = viewsText(views.map((v) => ({ name: v.name, createStatement: v.definition })));
      await fs.writeFile(join(hostDir, VIEWS_FILE), text, { mode: 0o600 });
      hostManifest.views = { file: VIEWS_FILE, sha256: createHash('sha256').update(text).digest('hex'), names: views.map((v) => v.name).sort() };
    }
    await fs.writeFile(join(hostDir, MANIFEST_FILE), renderManifest(hostManifest), { mode: 0o600 });
    if (snapshotDir) await fs.writeFile(join(snapshotDir, MANIFEST_FILE), renderManifest(userManifest), { mode: 0o600 });
    return { csv2BackupDir, userDataBackupDir, hostName, snapshot, database, tables: tableRows.length };
  } catch (err) {
    if (err instanceof VerifyError || err instanceof StoreError) throw err;
    // A table missing from the file, a column renamed: the file was changed after the export.
    throw new VerifyError(`${file}: ${errorMessage(err)}; nothing was restored`, { cause: err });
  } finally {
    db.close();
  }
}

/**
 * Runs `use` on the backup regenerated from `file` in a private temporary
 * directory (0700, under TMPDIR), removed afterwards whatever happens.
 */
export async function withMaterializedBackup<T>(file: string, use: (backup: MaterializedBackup) => Promise<T>): Promise<T> {
  let dir: string;
  try {
    dir = await fs.mkdtemp(join(tmpdir(), 'schema_restore-sqlite-'));
  } catch (err) {
    throw new StoreError(`cannot create a temporary directory in ${tmpdir()} (set TMPDIR): ${errorMessage(err)}`, { cause: err });
  }
  try {
    await fs.chmod(dir, 0o700);
    return await use(await materializeBackup(file, dir));
  } finally {
    await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}
