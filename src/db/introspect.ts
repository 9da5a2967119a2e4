/** Reads the catalogue: tables, columns, keys, triggers, views. Queries only; no SQL text is built from names except through quoteIdent. */
import type { Db } from './connect';
import { quoteIdent } from './quote';
import type { DbColumn, DbTable, DbTableDetail, DbTrigger, DbView } from './schema';

export async function listTables(db: Db): Promise<DbTable[]> {
  const rows = await db.queryArrays(
    'SELECT TABLE_NAME, TABLE_TYPE, ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME',
    [db.database],
  );
  return rows.map(([name, type, engine]) => ({
    name: name as string,
    kind: type === 'VIEW' ? 'view' : type === 'SEQUENCE' ? 'sequence' : 'table',
    engine: engine ? engine.toLowerCase() : null,
  }));
}

/** Columns and primary keys of every table, in two catalogue queries rather than two per table. */
export async function describeTables(db: Db): Promise<Map<string, DbTableDetail>> {
  const details = new Map<string, DbTableDetail>();
  const columns = await db.queryArrays(
    `SELECT TABLE_NAME, COLUMN_NAME, LOWER(DATA_TYPE), IS_GENERATED, EXTRA LIKE '%INVISIBLE%'
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, ORDINAL_POSITION`,
    [db.database],
  );
  for (const [table, name, dataType, generated, invisible] of columns) {
    const t = table as string;
    let d = details.get(t);
    if (!d) details.set(t, (d = { name: t, columns: [], primaryKey: [] }));
    const column: DbColumn = { name: name as string, dataType: dataType as string, generated: generated === 'ALWAYS', invisible: Number(invisible) === 1 };
    d.columns.push(column);
  }
  const keys = await db.queryArrays(
    `SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = ? AND INDEX_NAME = 'PRIMARY' ORDER BY TABLE_NAME, SEQ_IN_INDEX`,
    [db.database],
  );
  for (const [table, column] of keys) details.get(table as string)?.primaryKey.push(column as string);
  return details;
}

export async function showCreateTable(db: Db, table: string): Promise<string> {
  const rows = await db.queryArrays(`SHOW CREATE TABLE ${quoteIdent(table)}`);
  return rows[0][1] as string;
}

export async function listTriggers(db: Db): Promise<DbTrigger[]> {
  const names = await db.queryArrays(
    `SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS
      WHERE TRIGGER_SCHEMA = ? ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER`,
    [db.database],
  );
  const triggers: DbTrigger[] = [];
  for (const [name, table] of names) {
    // SHOW CREATE TRIGGER columns: Trigger, sql_mode, SQL Original Statement, ...
    const [row] = await db.queryArrays(`SHOW CREATE TRIGGER ${quoteIdent(name as string)}`);
    triggers.push({ name: name as string, table: table as string, sqlMode: row[1] ?? '', createStatement: row[2] as string });
  }
  return triggers;
}

export async function listViews(db: Db): Promise<DbView[]> {
  const names = await db.queryArrays(
    'SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME',
    [db.database],
  );
  const views: DbView[] = [];
  for (const [name] of names) {
    // Never SELECT from a view: some take minutes. SHOW CREATE VIEW reads only the definition.
    const [row] = await db.queryArrays(`SHOW CREATE VIEW ${quoteIdent(name as string)}`);
    views.push({ name: name as string, createStatement: row[1] as string });
  }
  return views;
}
