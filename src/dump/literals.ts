/**
 * The row SELECT: the server renders each row as one SQL tuple `(v1,v2,...)`,
 * so Node only copies bytes (formatting values in JavaScript was ~2x slower).
 * Every type must round-trip exactly; the choice per type is why.
 */
import { quoteIdent } from '../db/quote';
import type { DbColumn, DbTableDetail } from '../db/schema';

const BINARY_TYPES = new Set([
  'binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob',
  'geometry', 'point', 'linestring', 'polygon', 'multipoint', 'multilinestring', 'multipolygon', 'geometrycollection',
]);
const NUMERIC_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'decimal', 'numeric', 'year']);
const FLOAT_TYPES = new Set(['float', 'double', 'real']);

/** The SQL expression that renders one column's value as a literal; never NULL itself. */
export function literalExpression(column: DbColumn): string {
  const c = quoteIdent(column.name);
  const t = column.dataType;
  // Hex keeps every byte (NUL, invalid UTF-8) exact; spatial values hex their internal SRID+WKB, which loads back as is.
  if (BINARY_TYPES.has(t)) return `IFNULL(CONCAT('X''',HEX(${c}),''''),'NULL')`;
  // BIN() of a BIT value is its digits; b'' literals load into BIT(n) exactly.
  if (t === 'bit') return `IFNULL(CONCAT('b''',BIN(${c}),''''),'NULL')`;
  if (NUMERIC_TYPES.has(t)) return `IFNULL(${c},'NULL')`;
  // FLOAT renders with 6 digits (lossy); as DOUBLE it prints the shortest text that reads back to the same bits.
  if (FLOAT_TYPES.has(t)) return `IFNULL(CAST(${c} AS DOUBLE),'NULL')`;
  // Strings, temporal, ENUM/SET, JSON, INET6, UUID: QUOTE escapes \ ' NUL ^Z and yields NULL unquoted.
  // CONVERT makes every part one character set, so columns of different collations can be concatenated.
  return `CONVERT(QUOTE(${c}) USING utf8mb4)`;
}

/** Columns whose values are saved: generated columns are recomputed on load. */
export function storedColumns(table: DbTableDetail): DbColumn[] {
  return table.columns.filter((c) => !c.generated);
}

/** ORDER BY the primary key, or by every column when there is none, so a changed row is a small diff. */
export function orderColumns(table: DbTableDetail): string[] {
  return table.primaryKey.length > 0 ? table.primaryKey : storedColumns(table).map((c) => c.name);
}

export interface RowSelectOptions {
  /** Extra condition (primary-key ranges for parallel reads). */
  where?: string;
}

export function rowSelectSql(table: DbTableDetail, options: RowSelectOptions = {}): string {
  const parts = storedColumns(table).map(literalExpression);
  const tuple = `CONCAT('(',${parts.join(`,',',`)},')')`;
  const where = options.where ? ` WHERE ${options.where}` : '';
  const order = orderColumns(table).map(quoteIdent).join(',');
  return `SELECT ${tuple} FROM ${quoteIdent(table.name)}${where} ORDER BY ${order}`;
}

/** `INSERT INTO `t` (`a`,`b`) VALUES` — the column list skips generated columns. */
export function insertPrefix(table: DbTableDetail): string {
  return `INSERT INTO ${quoteIdent(table.name)} (${storedColumns(table).map((c) => quoteIdent(c.name)).join(',')}) VALUES\n`;
}
