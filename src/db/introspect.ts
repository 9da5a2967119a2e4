/** Reads the catalogue: tables, columns, keys, triggers, views. Queries only; no SQL text is built from names except through quoteIdent. */
import type { Db } from './connect';
import { quoteIdent } from './quote';
import type { DbColumn, DbTable, DbTableDetail, DbTrigger, DbView } from './schema';

export async function listTables(db: Db): Promise<DbTable[]> {
  const rows = await db.queryArrays(
    'SELECT TABLE_NAME, TABLE_TYPE, ENGINE, TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME',
    [db.database],
  );
  return rows.map(([name, type, engine, estimate]) => ({
    name: name as string,
    kind: type === 'VIEW' ? 'view' : type === 'SEQUENCE' ? 'sequence' : 'table',
    engine: engine ? engine.toLowerCase() : null,
    estimatedRows: estimate === null || estimate === undefined ? null : Number(estimate),
  }));
}

/** Whether an ENUM's COLUMN_TYPE (`enum('a','','b''c')`) has the empty string among its members. */
export function enumHasEmptyMember(columnType: string): boolean {
  const list = columnType.slice(columnType.indexOf('(') + 1);
  let i = 0;
  while (i < list.length && list[i] === "'") {
    let j = i + 1;
    let empty = true;
    for (;;) {
      if (j >= list.length) return false;
      if (list[j] === "'" && list[j + 1] === "'") {
        empty = false;
        j += 2;
      } else if (list[j] === "'") break;
      else {
        empty = false;
        j++;
      }
    }
    if (empty) return true;
    i = j + 2; // past the closing quote and the comma (or parenthesis)
  }
  return false;
}

/** Columns, primary keys and system versioning of every table, in three catalogue queries rather than per table. */
export async function describeTables(db: Db): Promise<Map<string, DbTableDetail>> {
  const details = new Map<string, DbTableDetail>();
  const columns = await db.queryArrays(
    `SELECT TABLE_NAME, COLUMN_NAME, LOWER(DATA_TYPE), IS_GENERATED, EXTRA LIKE '%INVISIBLE%', COLUMN_TYPE, GENERATION_EXPRESSION
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, ORDINAL_POSITION`,
    [db.database],
  );
  for (const [table, name, dataType, generated, invisible, columnType, expression] of columns) {
    const t = table as string;
    let d = details.get(t);
    if (!d) details.set(t, (d = { name: t, columns: [], primaryKey: [] }));
    // A declared period column is GENERATED ALWAYS AS ROW START/END: a value to save, not an expression.
    const period = generated === 'ALWAYS' && expression === 'ROW START' ? 'start' : generated === 'ALWAYS' && expression === 'ROW END' ? 'end' : undefined;
    const column: DbColumn = { name: name as string, dataType: dataType as string, generated: generated === 'ALWAYS' && period === undefined, invisible: Number(invisible) === 1 };
    if (period) column.period = period;
    if (dataType === 'enum' && enumHasEmptyMember(String(columnType))) column.enumWithEmptyMember = true;
    if (dataType === 'double' && /^double( unsigned)?$/i.test(String(columnType))) column.plainDouble = true;
    if (/ zerofill$/i.test(String(columnType))) column.zerofill = true;
    d.columns.push(column);
  }
  const keys = await db.queryArrays(
    `SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = ? AND INDEX_NAME = 'PRIMARY' ORDER BY TABLE_NAME, SEQ_IN_INDEX`,
    [db.database],
  );
  for (const [table, column] of keys) details.get(table as string)?.primaryKey.push(column as string);
  const versioned = await db.queryArrays("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'SYSTEM VERSIONED'", [db.database]);
  for (const [table] of versioned) {
    const d = details.get(table as string);
    if (!d) continue;
    const start = d.columns.find((c) => c.period === 'start');
    const end = d.columns.find((c) => c.period === 'end');
    d.versioning = start && end ? { rowStart: start.name, rowEnd: end.name, implicit: false } : { rowStart: 'ROW_START', rowEnd: 'ROW_END', implicit: true };
    // The catalogue leaves the row end out of the key it reports; every version of a row shares the rest.
    if (d.primaryKey.length > 0 && !d.primaryKey.includes(d.versioning.rowEnd)) d.primaryKey.push(d.versioning.rowEnd);
  }
  return details;
}

/**
 * SHOW CREATE TABLE, or for a sequence SHOW CREATE SEQUENCE: a sequence's
 * CREATE TABLE form (`SEQUENCE=1`) recreates it with default start, increment
 * and cache, whereas CREATE SEQUENCE carries its definition (its state is its row).
 */
export async function showCreateTable(db: Db, table: string): Promise<string> {
  return (await showCreateTables(db, [table])).get(table) as string;
}

const isSequenceForm = (create: string) => /\) ENGINE=\S+ SEQUENCE=1$/.test(create);

/** showCreateTable of every table in `tables`, asked together (one round trip on a connection opened with `batches`). */
export async function showCreateTables(db: Db, tables: readonly string[]): Promise<Map<string, string>> {
  const results = await db.queryArraysEach(tables.map((t) => `SHOW CREATE TABLE ${quoteIdent(t)}`));
  const creates = new Map(tables.map((t, i) => [t, results[i][0][1] as string]));
  const sequences = tables.filter((t) => isSequenceForm(creates.get(t) as string));
  const definitions = await db.queryArraysEach(sequences.map((t) => `SHOW CREATE SEQUENCE ${quoteIdent(t)}`));
  sequences.forEach((t, i) => creates.set(t, definitions[i][0][1] as string));
  return creates;
}

export async function listTriggers(db: Db): Promise<DbTrigger[]> {
  const names = await db.queryArrays(
    `SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS
      WHERE TRIGGER_SCHEMA = ? ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER`,
    [db.database],
  );
  // SHOW CREATE TRIGGER columns: Trigger, sql_mode, SQL Original Statement, ...
  const shown = await db.queryArraysEach(names.map(([name]) => `SHOW CREATE TRIGGER ${quoteIdent(name as string)}`));
  return names.map(([name, table], i) => {
    const row = shown[i][0];
    return { name: name as string, table: table as string, sqlMode: row[1] ?? '', createStatement: row[2] as string };
  });
}

export async function listViews(db: Db): Promise<DbView[]> {
  const names = await db.queryArrays(
    'SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME',
    [db.database],
  );
  // Never SELECT from a view: some take minutes. SHOW CREATE VIEW reads only the definition.
  const shown = await db.queryArraysEach(names.map(([name]) => `SHOW CREATE VIEW ${quoteIdent(name as string)}`));
  return names.map(([name], i) => ({ name: name as string, createStatement: shown[i][0][1] as string }));
}
