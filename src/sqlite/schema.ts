/**
 * The SQLite side of an export (pure): each MariaDB table as an SQLite table
 * with its stored columns, NOT NULL, defaults, primary key, unique keys and
 * foreign keys (plain keys as indexes), plus schema_backup's own tables that
 * keep what SQLite cannot run (views, triggers, the original CREATE TABLE).
 * What cannot be expressed is left out and said in `notes`, never approximated.
 */
import type { ColumnDef, DefaultValue, KeyDef, TableDef } from './create-table';
import { mapColumn, type ColumnMapping } from './type-map';
import { INT64_MAX } from './values';

export const META_TABLE = '_schema_backup_meta';
export const TABLES_TABLE = '_schema_backup_tables';
export const COLUMNS_TABLE = '_schema_backup_columns';
export const OBJECTS_TABLE = '_schema_backup_objects';
export const OWN_TABLES = [META_TABLE, TABLES_TABLE, COLUMNS_TABLE, OBJECTS_TABLE];

/** Version of the file layout this code writes and reads. */
export const EXPORT_FORMAT = '1';

export const OWN_TABLES_DDL = [
  `CREATE TABLE ${META_TABLE} (key TEXT PRIMARY KEY NOT NULL, value TEXT)`,
  `CREATE TABLE ${TABLES_TABLE} (
  name TEXT PRIMARY KEY NOT NULL,
  class TEXT NOT NULL,
  origin TEXT NOT NULL,
  rows_saved INTEGER NOT NULL,
  rows INTEGER,
  create_table TEXT NOT NULL,
  source_sha256 TEXT NOT NULL,
  notes TEXT
)`,
  `CREATE TABLE ${COLUMNS_TABLE} (
  table_name TEXT NOT NULL,
  column_name TEXT NOT NULL,
  position INTEGER NOT NULL,
  mariadb_type TEXT NOT NULL,
  sqlite_type TEXT NOT NULL,
  storage TEXT NOT NULL,
  PRIMARY KEY (table_name, column_name)
)`,
  `CREATE TABLE ${OBJECTS_TABLE} (
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  table_name TEXT,
  position INTEGER NOT NULL,
  sql_mode TEXT,
  definition TEXT NOT NULL,
  PRIMARY KEY (kind, name)
)`,
];

export function sqliteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function sqliteString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

export interface StoredColumn {
  def: ColumnDef;
  mapping: ColumnMapping;
}

export interface SqliteTable {
  name: string;
  /** Columns with a place in SQLite, in table order (generated columns have none: the server recomputes them). */
  columns: StoredColumn[];
  create: string;
  /** CREATE INDEX statements, run once the rows are in. */
  indexes: string[];
  notes: string[];
}

const NUMERIC = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** The SQLite DEFAULT clause for a column, or null (with why, when a default is lost). */
export function sqliteDefault(d: DefaultValue | null, mapping: ColumnMapping): { clause: string | null; lost: string | null } {
  if (d === null || d.kind === 'null') return { clause: null, lost: null };
  const codec = mapping.codec;
  const asNumberText = (text: string): string | null => {
    if (!NUMERIC.test(text)) return null;
    if (codec === 'decimal' || codec === 'text') return sqliteString(text);
    if (codec === 'uint64' || codec === 'bit64') return /^\d+$/.test(text) && BigInt(text) > INT64_MAX ? sqliteString(BigInt(text).toString()) : text;
    if (codec === 'integer' || codec === 'real' || codec === 'bit') return text;
    return null;
  };
  let clause: string | null = null;
  if (d.kind === 'number') clause = asNumberText(d.text);
  else if (d.kind === 'string') {
    if (d.prefix === 'b') {
      const v = /^[01]*$/.test(d.value) ? (d.value === '' ? 0n : BigInt(`0b${d.value}`)) : null;
      clause = v === null ? null : v > INT64_MAX ? sqliteString(v.toString()) : v.toString();
    } else if (d.prefix === 'x') clause = /^(?:[0-9a-fA-F]{2})*$/.test(d.value) ? `X'${d.value.toUpperCase()}'` : null;
    else if (codec === 'blob') clause = `X'${Buffer.from(d.value, 'utf8').toString('hex').toUpperCase()}'`;
    else if (codec === 'text' || codec === 'decimal') clause = sqliteString(d.value);
    else clause = asNumberText(d.value.trim());
  } else if (codec === 'text' && /^(?:current_timestamp|now|localtimestamp)(?:\(\d*\))?$/i.test(d.text)) {
    clause = 'CURRENT_TIMESTAMP';
  }
  return clause === null ? { clause: null, lost: `default ${d.kind === 'string' ? `'${d.value}'` : d.text} not kept` } : { clause: `DEFAULT ${clause}`, lost: null };
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean => {
  const lower = (xs: readonly string[]) => new Set(xs.map((x) => x.toLowerCase()));
  const sa = lower(a);
  const sb = lower(b);
  return sa.size === sb.size && [...sa].every((x) => sb.has(x));
};

/** The keys a table keeps in SQLite: the primary key and unique keys whose columns are all stored. */
export function keptKeys(def: TableDef): { primaryKey: string[] | null; unique: KeyDef[] } {
  const stored = new Set(def.columns.filter((c) => !c.generated).map((c) => c.name.toLowerCase()));
  const allStored = (cols: string[]) => cols.every((c) => stored.has(c.toLowerCase()));
  return {
    primaryKey: def.primaryKey.length > 0 && allStored(def.primaryKey) ? def.primaryKey : null,
    unique: def.uniqueKeys.filter((k) => allStored(k.columns)),
  };
}

/**
 * The SQLite table for a MariaDB table. `tables` holds every table of the
 * export (by name): a foreign key is kept only where SQLite can check it,
 * i.e. its parent is in the file and the referenced columns are the parent's
 * primary key or one of its unique keys.
 */
export function sqliteTable(def: TableDef, tables: ReadonlyMap<string, TableDef>): SqliteTable {
  const notes: string[] = [];
  const columns: StoredColumn[] = [];
  const lines: string[] = [];
  for (const col of def.columns) {
    if (col.generated) {
      notes.push(`generated column ${col.name} is not stored (the server recomputes it)`);
      continue;
    }
    const mapping = mapColumn(col);
    columns.push({ def: col, mapping });
    const { clause, lost } = sqliteDefault(col.default, mapping);
    if (lost) notes.push(`column ${col.name}: ${lost}`);
    lines.push([sqliteIdent(col.name), mapping.sqliteType, col.notNull ? 'NOT NULL' : '', clause ?? ''].filter(Boolean).join(' '));
  }
  const ident = (cols: readonly string[]) => cols.map(sqliteIdent).join(', ');
  const kept = keptKeys(def);
  if (kept.primaryKey) lines.push(`PRIMARY KEY (${ident(kept.primaryKey)})`);
  else if (def.primaryKey.length) notes.push('primary key on a generated column not kept');
  for (const k of def.uniqueKeys) {
    if (kept.unique.includes(k)) lines.push(`CONSTRAINT ${sqliteIdent(k.name)} UNIQUE (${ident(k.columns)})`);
    else notes.push(`unique key ${k.name} on a generated column not kept`);
  }
  for (const fk of def.foreignKeys) {
    const parent = fk.refDatabase === null ? tables.get(fk.refTable) : undefined;
    const parentKeys = parent ? keptKeys(parent) : null;
    const referencesKey =
      parentKeys !== null && ((parentKeys.primaryKey !== null && sameSet(parentKeys.primaryKey, fk.refColumns)) || parentKeys.unique.some((k) => sameSet(k.columns, fk.refColumns)));
    const label = fk.name ?? `(${fk.columns.join(', ')})`;
    if (!parent) {
      notes.push(`foreign key ${label} not kept: ${fk.refDatabase ? `${fk.refDatabase}.` : ''}${fk.refTable} is not in the backup`);
      continue;
    }
    if (!referencesKey) {
      notes.push(`foreign key ${label} not kept: SQLite needs the referenced columns to be a primary or unique key of ${fk.refTable}`);
      continue;
    }
    const actions = [fk.onDelete ? `ON DELETE ${fk.onDelete}` : '', fk.onUpdate ? `ON UPDATE ${fk.onUpdate}` : ''].filter(Boolean).join(' ');
    lines.push(
      `${fk.name ? `CONSTRAINT ${sqliteIdent(fk.name)} ` : ''}FOREIGN KEY (${ident(fk.columns)}) REFERENCES ${sqliteIdent(fk.refTable)} (${ident(fk.refColumns)})${actions ? ` ${actions}` : ''}`,
    );
  }
  const storedNames = new Set(columns.map((c) => c.def.name.toLowerCase()));
  const indexes: string[] = [];
  for (const k of def.indexes) {
    if (!k.columns.every((c) => storedNames.has(c.toLowerCase()))) {
      notes.push(`index ${k.name} on a generated column not kept`);
      continue;
    }
    indexes.push(`CREATE INDEX ${sqliteIdent(`${def.name}.${k.name}`)} ON ${sqliteIdent(def.name)} (${ident(k.columns)})`);
  }
  const create = `CREATE TABLE ${sqliteIdent(def.name)} (\n  ${lines.join(',\n  ')}\n)`;
  return { name: def.name, columns, create, indexes, notes };
}

/** Names SQLite cannot take for a table of the export, or that collide there (SQLite compares names without case). */
export function nameProblems(tables: readonly string[]): string[] {
  const problems: string[] = [];
  const seen = new Map<string, string>();
  for (const t of tables) {
    const lower = t.toLowerCase();
    if (lower.startsWith('sqlite_')) problems.push(`table ${t}: SQLite reserves names starting with sqlite_`);
    if (OWN_TABLES.includes(lower)) problems.push(`table ${t}: the export keeps its own table of that name`);
    const other = seen.get(lower);
    if (other !== undefined) problems.push(`tables ${other} and ${t}: SQLite does not tell names apart by case`);
    seen.set(lower, t);
  }
  return problems;
}
