/**
 * How each MariaDB column type is kept in SQLite (pure), chosen so that
 * nothing is lost and the file stays usable on its own. SQLite converts a
 * value by the column's declared type ("affinity"): a text of digits into an
 * INTEGER column becomes a number, a number too large for 64 bits becomes a
 * REAL (rounded). So each type gets the declared type that keeps its values
 * exactly; the README's "SQLite export" section is the table of this file.
 */
import type { ColumnDef } from './create-table';

/** How a column's values are decoded from a backup file and rendered back (see values.ts). */
export type Codec =
  /** Signed integers, and unsigned ones that fit: INTEGER. */
  | 'integer'
  /** BIGINT UNSIGNED, BIT(64): INTEGER up to 2^63-1, the exact decimal TEXT above (declared without a type, so SQLite converts nothing). */
  | 'uint64'
  /** DECIMAL: the exact decimal text. */
  | 'decimal'
  /** FLOAT, DOUBLE: REAL (a double holds either exactly). */
  | 'real'
  /** BIT(n), n < 64: its value as an INTEGER. */
  | 'bit'
  | 'bit64'
  /** Strings, ENUM, SET, JSON, dates and times (zero dates too), INET6, UUID: UTF-8 TEXT. */
  | 'text'
  /** BINARY, VARBINARY, BLOBs, spatial values (SRID + WKB, as MariaDB stores them): BLOB. */
  | 'blob';

export interface ColumnMapping {
  /** The declared type in SQLite ('' for none: values keep their own storage class). */
  sqliteType: '' | 'INTEGER' | 'REAL' | 'TEXT' | 'BLOB';
  codec: Codec;
  /** For _schema_backup_columns: how a reader should take the values. */
  storage: string;
}

const INTEGER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'year', 'int1', 'int2', 'int3', 'int4', 'int8', 'middleint']);
const DECIMAL_TYPES = new Set(['decimal', 'numeric', 'dec', 'fixed']);
const REAL_TYPES = new Set(['float', 'double', 'real', 'float4', 'float8']);
const BLOB_TYPES = new Set([
  'binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob', 'long',
  'geometry', 'point', 'linestring', 'polygon', 'multipoint', 'multilinestring', 'multipolygon', 'geometrycollection',
]);
const TEXT_TYPES = new Set([
  'char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'enum', 'set', 'json',
  'date', 'datetime', 'timestamp', 'time', 'inet4', 'inet6', 'uuid', 'nchar', 'nvarchar', 'character',
]);

export const UINT64_NOTE = 'INTEGER up to 9223372036854775807; above, the exact decimal value as TEXT';

export function mapColumn(col: ColumnDef): ColumnMapping {
  const t = col.type;
  if (t === 'bigint' && col.unsigned) return { sqliteType: '', codec: 'uint64', storage: UINT64_NOTE };
  if (INTEGER_TYPES.has(t)) return { sqliteType: 'INTEGER', codec: 'integer', storage: 'INTEGER' };
  if (t === 'bit') {
    const width = Number(col.args ?? '1');
    return width >= 64 ? { sqliteType: '', codec: 'bit64', storage: `bit value: ${UINT64_NOTE}` } : { sqliteType: 'INTEGER', codec: 'bit', storage: 'INTEGER (the bits as a number)' };
  }
  if (DECIMAL_TYPES.has(t)) return { sqliteType: 'TEXT', codec: 'decimal', storage: 'TEXT (exact decimal)' };
  if (REAL_TYPES.has(t)) return { sqliteType: 'REAL', codec: 'real', storage: t.startsWith('float') ? 'REAL (the float value, exactly)' : 'REAL' };
  if (BLOB_TYPES.has(t)) {
    const spatial = !['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob', 'long'].includes(t);
    return { sqliteType: 'BLOB', codec: 'blob', storage: spatial ? 'BLOB (MariaDB internal: 4-byte SRID + WKB)' : 'BLOB' };
  }
  if (TEXT_TYPES.has(t)) return { sqliteType: 'TEXT', codec: 'text', storage: 'TEXT (UTF-8)' };
  // A type this table does not know (a newer server's): its values are quoted strings in the file.
  return { sqliteType: 'TEXT', codec: 'text', storage: `TEXT (UTF-8; ${t} is not a known type)` };
}
