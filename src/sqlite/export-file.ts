/**
 * The SQLite file being written: created private under a temporary name
 * beside its destination, filled in one transaction, and renamed into place
 * only when complete. Until then a failure removes it, so no half-written
 * export is ever left under the name asked for.
 */
import { closeSync, fsyncSync, openSync, promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { StoreError, errorMessage } from '../errors';
import { COLUMNS_TABLE, META_TABLE, OBJECTS_TABLE, OWN_TABLES_DDL, TABLES_TABLE, sqliteIdent, type SqliteTable } from './schema';
import type { SqliteValue } from './values';

export interface TableRecord {
  name: string;
  class: string;
  origin: 'host' | 'user';
  rowsSaved: boolean;
  rows: number | null;
  createTable: string;
  sourceSha256: string;
  notes: string[];
}

export interface ObjectRecord {
  kind: 'view' | 'trigger';
  name: string;
  table: string | null;
  position: number;
  sqlMode: string | null;
  definition: string;
}

export class ExportFile {
  private constructor(
    readonly path: string,
    readonly tempPath: string,
    private readonly db: Database.Database,
  ) {}

  static async create(path: string): Promise<ExportFile> {
    const tempPath = join(dirname(path), `.${basename(path)}.partial-${process.pid}`);
    try {
      await fs.rm(tempPath, { force: true });
      // Created 0600 before SQLite opens it: local rows are never readable by others, not even for a moment.
      closeSync(openSync(tempPath, 'wx', 0o600));
    } catch (err) {
      throw new StoreError(`cannot create ${tempPath}: ${errorMessage(err)}`, { cause: err });
    }
    const db = new Database(tempPath);
    try {
      // The file is renamed into place only once complete: no journal is needed to survive a crash.
      db.pragma('journal_mode = OFF');
      db.pragma('synchronous = OFF');
      db.pragma('foreign_keys = OFF');
      for (const ddl of OWN_TABLES_DDL) db.exec(ddl);
      db.exec('BEGIN');
    } catch (err) {
      db.close();
      await fs.rm(tempPath, { force: true });
      throw new StoreError(`cannot write SQLite file ${tempPath}: ${errorMessage(err)}`, { cause: err });
    }
    return new ExportFile(path, tempPath, db);
  }

  createTable(table: SqliteTable): void {
    this.db.exec(table.create);
    const insert = this.db.prepare(`INSERT INTO ${COLUMNS_TABLE} VALUES (?, ?, ?, ?, ?, ?)`);
    table.columns.forEach((c, i) => {
      const type = `${c.def.type}${c.def.args !== null ? `(${c.def.args})` : ''}${c.def.unsigned ? ' unsigned' : ''}`;
      insert.run(table.name, c.def.name, i + 1, type, c.mapping.sqliteType, c.mapping.storage);
    });
  }

  /** A function that inserts one row (values in the table's stored-column order). */
  rowInserter(table: SqliteTable): (values: SqliteValue[]) => void {
    const cols = table.columns.map((c) => sqliteIdent(c.def.name));
    const stmt = this.db.prepare(`INSERT INTO ${sqliteIdent(table.name)} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`);
    return (values) => {
      stmt.run(values);
    };
  }

  createIndexes(table: SqliteTable): void {
    for (const sql of table.indexes) this.db.exec(sql);
  }

  recordTable(t: TableRecord): void {
    this.db
      .prepare(`INSERT INTO ${TABLES_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(t.name, t.class, t.origin, t.rowsSaved ? 1 : 0, t.rows, t.createTable, t.sourceSha256, t.notes.length ? t.notes.join('\n') : null);
  }

  recordObject(o: ObjectRecord): void {
    this.db.prepare(`INSERT INTO ${OBJECTS_TABLE} VALUES (?, ?, ?, ?, ?, ?)`).run(o.kind, o.name, o.table, o.position, o.sqlMode, o.definition);
  }

  recordMeta(entries: Record<string, string | null>): void {
    const insert = this.db.prepare(`INSERT INTO ${META_TABLE} VALUES (?, ?)`);
    for (const [k, v] of Object.entries(entries)) insert.run(k, v);
  }

  /** Rows that break a foreign key (a child whose parent was not saved, e.g. an ephemeral one). */
  foreignKeyViolations(): { table: string; parent: string; count: number }[] {
    const rows = this.db.prepare('PRAGMA foreign_key_check').all() as { table: string; parent: string }[];
    const counts = new Map<string, { table: string; parent: string; count: number }>();
    for (const r of rows) {
      const key = `${r.table}\0${r.parent}`;
      const c = counts.get(key) ?? { table: r.table, parent: r.parent, count: 0 };
      c.count++;
      counts.set(key, c);
    }
    return [...counts.values()];
  }

  /** Commits, syncs and renames the file into place, with its final mode. */
  async finish(mode: number): Promise<void> {
    try {
      this.db.exec('COMMIT');
      this.db.close();
      const fd = openSync(this.tempPath, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      await fs.chmod(this.tempPath, mode);
      await fs.rename(this.tempPath, this.path);
      const dir = openSync(dirname(this.path), 'r');
      try {
        fsyncSync(dir);
      } finally {
        closeSync(dir);
      }
    } catch (err) {
      await this.abort();
      throw new StoreError(`cannot complete ${this.path}: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Removes the temporary file; never throws (error path). */
  async abort(): Promise<void> {
    try {
      if (this.db.open) this.db.close();
    } catch {
      // closing a failed connection: nothing more to do
    }
    await fs.rm(this.tempPath, { force: true }).catch(() => undefined);
  }
}
