/**
 * How each value becomes an SQL literal. literalExpression() has the server
 * render a whole row as one tuple: it is the reference. The dump reads raw
 * values instead (columnRead) and renders them in the client (src/dump/tuples.ts)
 * to the same bytes: that halves the server's work, which was the bottleneck.
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
const TEXT_TYPES = new Set(['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'enum', 'set', 'json']);

/**
 * A comma inside a quoted value, escaped where db_upgrade's splits on `),(` and
 * `','` would cut it (the rule of commaNeedsEscape in src/dump/tuples.ts).
 */
function escapeSplitCommas(quoted: string): string {
  const q = `REPLACE(${quoted},'),(',')\\\\,(')`;
  return `IF(${q} = ''',''', '''\\\\,''', IF(RIGHT(${q},4) = '\\\\'',''', CONCAT(LEFT(${q},CHAR_LENGTH(${q})-2),'\\\\,'''), ${q}))`;
}

/**
 * The same rule on a string already escaped as QUOTE() does (without its quotes), for
 * files written from JavaScript values (src/sqlite/materialize.ts): `\'` is the only
 * quote such text holds, so `\',` at its end is a comma after a quote.
 */
export function escapeSplitCommasText(escaped: string): string {
  const ended = escaped === ',' || escaped.endsWith("\\',") ? `${escaped.slice(0, -1)}\\,` : escaped;
  return ended.replace(/\),\(/g, ')\\,(');
}

/** The SQL expression that renders one column's value as a literal; never NULL itself. */
export function literalExpression(column: DbColumn): string {
  const c = quoteIdent(column.name);
  const t = column.dataType;
  if (column.generated) return `'DEFAULT'`;
  // Hex keeps every byte (NUL, invalid UTF-8) exact; spatial values hex their internal SRID+WKB, which loads back as is.
  if (BINARY_TYPES.has(t)) return `IFNULL(CONCAT('X''',HEX(${c}),''''),'NULL')`;
  // BIN() of a BIT value is its digits; b'' literals load into BIT(n) exactly.
  if (t === 'bit') return `IFNULL(CONCAT('b''',BIN(${c}),''''),'NULL')`;
  if (NUMERIC_TYPES.has(t)) return `IFNULL(${c},'NULL')`;
  // FLOAT renders with 6 digits (lossy); as DOUBLE it prints the shortest text that reads back to the same bits.
  if (FLOAT_TYPES.has(t)) return `IFNULL(CAST(${c} AS DOUBLE),'NULL')`;
  // Strings, temporal, ENUM/SET, JSON, INET6, UUID: QUOTE escapes \ ' NUL ^Z and yields NULL unquoted.
  // CONVERT makes every part one character set, so columns of different collations can be concatenated.
  const quoted = `CONVERT(QUOTE(${c}) USING utf8mb4)`;
  // QUOTE leaves CR and LF raw: the mariadb client drops a CR before LF when reading a file, and a raw LF
  // would break "one row per line". Escaped as \r and \n (as mysqldump does); temporal values have neither.
  const literal = escapeSplitCommas(TEXT_TYPES.has(t) ? `REPLACE(REPLACE(${quoted},CHAR(13 USING utf8mb4),'\\\\r'),CHAR(10 USING utf8mb4),'\\\\n')` : quoted);
  return column.enumWithEmptyMember ? enumErrorAware(c, literal) : literal;
}

/**
 * An ENUM's error value (index 0, stored for a non-member in non-strict mode)
 * reads as '', like a '' member: where the ENUM has one, the error value is
 * written as the number 0, which a non-strict session (our files' SQL_MODE)
 * stores as index 0. Elsewhere '' already loads back as the error value, so
 * those files stay as they were. NULL falls through to QUOTE's NULL.
 */
function enumErrorAware(c: string, literal: string): string {
  return `IF(${c}+0 = 0,'0',${literal})`;
}

/** Columns whose values are saved: generated columns are recomputed on load. */
export function storedColumns(table: DbTableDetail): DbColumn[] {
  return table.columns.filter((c) => !c.generated);
}

/** The invisible period columns of a table declared WITH SYSTEM VERSIONING alone, saved after the others. */
function implicitPeriodColumns(table: DbTableDetail): DbColumn[] {
  const v = table.versioning;
  if (!v?.implicit) return [];
  return [
    { name: v.rowStart, dataType: 'timestamp', generated: false, period: 'start' },
    { name: v.rowEnd, dataType: 'timestamp', generated: false, period: 'end' },
  ];
}

/**
 * Whether the INSERT names its columns. db_upgrade reads only `INSERT INTO t VALUES (`,
 * and maps values to columns by position, so a row holds every column in table
 * order (a generated one as DEFAULT). Invisible columns are left out of a bare
 * VALUES list by the server, so only their tables name the columns; so do
 * system-versioned tables, whose rows carry their period (row start and end).
 */
export function namesColumns(table: DbTableDetail): boolean {
  return table.columns.some((c) => c.invisible) || table.versioning !== undefined;
}

/** The columns of a row in the file, in order. */
export function rowColumns(table: DbTableDetail): DbColumn[] {
  return namesColumns(table) ? [...storedColumns(table), ...implicitPeriodColumns(table)] : table.columns;
}

/** ORDER BY the primary key, or by every column when there is none, so a changed row is a small diff. */
export function orderColumns(table: DbTableDetail): string[] {
  return table.primaryKey.length > 0 ? table.primaryKey : rowColumns(table).filter((c) => !c.generated).map((c) => c.name);
}

/** `FROM t`, or for a system-versioned table every version of every row: its history is data too. */
function fromTable(table: DbTableDetail): string {
  return `${quoteIdent(table.name)}${table.versioning ? ' FOR SYSTEM_TIME ALL' : ''}`;
}

/**
 * How the client renders a value it reads raw (the fast path, src/dump/tuples.ts):
 * the bytes must equal what literalExpression() makes the server produce.
 */
export enum ValueKind {
  /** Copied as is (numbers; FLOAT/DOUBLE read through CAST AS DOUBLE). */
  Number = 0,
  /** Quoted and escaped exactly as QUOTE() does: \\ ' NUL ^Z (temporal, INET6, UUID). */
  String = 1,
  /** Like String, and CR LF as \\r \\n (the REPLACE around QUOTE for text types). */
  Text = 2,
  /** Raw bytes written as X'HEX' (upper case, like HEX()). */
  Hex = 3,
  /** BIN() digits written as b'...'. */
  Bit = 4,
  /** A generated column: read as NULL, written as DEFAULT. */
  Default = 5,
}

export interface ColumnRead {
  /** What the SELECT asks for: the column itself wherever the raw value is exact. */
  expression: string;
  kind: ValueKind;
}

/** The raw read of one column; the client adds quotes and escapes (see ValueKind). */
export function columnRead(column: DbColumn): ColumnRead {
  const c = quoteIdent(column.name);
  const t = column.dataType;
  if (column.generated) return { expression: 'NULL', kind: ValueKind.Default };
  // Raw bytes, hexed by the client: HEX() on the server would turn a value over max_allowed_packet into NULL.
  if (BINARY_TYPES.has(t)) return { expression: c, kind: ValueKind.Hex };
  if (t === 'bit') return { expression: `BIN(${c})`, kind: ValueKind.Bit };
  if (NUMERIC_TYPES.has(t)) return { expression: c, kind: ValueKind.Number };
  // A plain DOUBLE is read as it is: the same text as the CAST, and the server's cheapest read (6% of the numeric shape).
  if (FLOAT_TYPES.has(t)) return { expression: column.plainDouble ? c : `CAST(${c} AS DOUBLE)`, kind: ValueKind.Number };
  // Rare (an ENUM with a '' member): the server renders the literal, so the hot loop needs no case of its own.
  if (column.enumWithEmptyMember) return { expression: literalExpression(column), kind: ValueKind.Number };
  // The connection's character set is utf8mb4, so the server converts the value as CONVERT(... USING utf8mb4) does.
  return { expression: c, kind: TEXT_TYPES.has(t) ? ValueKind.Text : ValueKind.String };
}

export interface RowSelectOptions {
  /** Extra condition (primary-key ranges for parallel reads). */
  where?: string;
  /**
   * SELECT expressions read instead of some columns (by column name), for
   * values the backup must save other than the snapshot's (the pause flag the
   * run itself set). Each must yield what the column's raw read would.
   */
  columnExpressions?: ReadonlyMap<string, string>;
}

/** `SELECT list FROM t [WHERE ...] ORDER BY key`: the frame of every row read, whichever protocol. */
function selectRows(table: DbTableDetail, list: string, options: RowSelectOptions): string {
  const where = options.where ? ` WHERE ${options.where}` : '';
  const order = orderColumns(table).map(quoteIdent).join(',');
  return `SELECT ${list} FROM ${fromTable(table)}${where} ORDER BY ${order}`;
}

export function rowSelectSql(table: DbTableDetail, options: RowSelectOptions = {}): string {
  const parts = rowColumns(table).map(literalExpression);
  const tuple = `CONCAT('(',${parts.join(`,',',`)},')')`;
  return selectRows(table, tuple, options);
}

/** The SELECT of the fast path: raw values (see columnRead), same order and range as rowSelectSql. */
export function rawRowSelectSql(table: DbTableDetail, options: RowSelectOptions = {}): string {
  // A generated column keeps its NULL placeholder (written DEFAULT) whatever the override.
  const exprs = rowColumns(table).map((c) => (c.generated ? undefined : options.columnExpressions?.get(c.name)) ?? columnRead(c).expression);
  return selectRows(table, exprs.join(','), options);
}

/** Types whose binary-protocol value is exactly what the text protocol's value says: numbers as bytes, strings length-coded. */
const BINARY_PROTOCOL_AS_IS = new Set([...NUMERIC_TYPES, ...FLOAT_TYPES, ...BINARY_TYPES, ...TEXT_TYPES, 'bit']);
BINARY_PROTOCOL_AS_IS.delete('year');

/**
 * The SELECT of rawRowSelectSql for the binary protocol (a prepared statement):
 * the same values, with those whose binary form is not the text one read as
 * text. CONCAT() of one value is its text, as the text protocol sends it:
 * temporal types and YEAR (sent as structures or a number without its
 * padding), ZEROFILL numbers (sent without their zeros), types of MariaDB's
 * own (INET6, UUID), and the caller's expressions, whose type is theirs.
 * FLOAT and DOUBLE are read as they are, without the text protocol's CAST.
 */
export function binaryRowSelectSql(table: DbTableDetail, options: RowSelectOptions = {}): string {
  const exprs = rowColumns(table).map((c) => {
    const override = c.generated ? undefined : options.columnExpressions?.get(c.name);
    if (override !== undefined) return `CONCAT(${override})`;
    // A FLOAT comes as its 4 bytes, written as the double it widens to: the text of the text protocol's CAST, without the cast.
    if (FLOAT_TYPES.has(c.dataType) && !c.generated) return quoteIdent(c.name);
    const read = columnRead(c).expression;
    const asIs = c.generated || (BINARY_PROTOCOL_AS_IS.has(c.dataType) && !(c.zerofill && NUMERIC_TYPES.has(c.dataType)));
    return asIs ? read : `CONCAT(${read})`;
  });
  return selectRows(table, exprs.join(','), options);
}

/** `INSERT INTO `t` VALUES ` (what db_upgrade reads), or with the column list where namesColumns() says so. */
export function insertPrefix(table: DbTableDetail): string {
  const columns = namesColumns(table) ? ` (${rowColumns(table).map((c) => quoteIdent(c.name)).join(',')})` : '';
  return `INSERT INTO ${quoteIdent(table.name)}${columns} VALUES `;
}
