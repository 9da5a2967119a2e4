/**
 * How each value of a binary-protocol row comes (a prepared statement's
 * result), from its column definition: numbers as their bytes, everything else
 * length-coded as in the text protocol. The values match Wire in
 * native/tuple_encoder.cc, which writes the numbers as the server's text
 * protocol does. Temporal columns are read as text (see binaryRowSelectSql), so
 * a temporal type here means the SELECT was not the one this reader built.
 */
export const enum Wire {
  LengthCoded = 0,
  Int8 = 1,
  Uint8 = 2,
  Int16 = 3,
  Uint16 = 4,
  Int32 = 5,
  Uint32 = 6,
  Int64 = 7,
  Uint64 = 8,
  Float = 9,
  Double = 10,
}

/** MySQL protocol column types (include/mysql_com.h enum_field_types). */
const enum FieldType {
  Decimal = 0,
  Tiny = 1,
  Short = 2,
  Long = 3,
  Float = 4,
  Double = 5,
  Null = 6,
  LongLong = 8,
  Int24 = 9,
  Varchar = 15,
  Bit = 16,
  Json = 245,
  NewDecimal = 246,
  Geometry = 255,
}
const UNSIGNED_FLAG = 32;

/** ENUM, SET, the BLOB types, VAR_STRING, STRING: length-coded like the text protocol's values. */
function lengthCoded(type: number): boolean {
  return type === FieldType.Decimal || type === FieldType.NewDecimal || type === FieldType.Null || type === FieldType.Varchar || type === FieldType.Bit ||
    type === FieldType.Json || (type >= 247 && type <= FieldType.Geometry);
}

/** The wire form of one result column, or null for a type this reader does not decode (temporal, YEAR, unknown). */
export function wireOf(columnType: number, flags: number): Wire | null {
  const unsigned = (flags & UNSIGNED_FLAG) !== 0;
  switch (columnType) {
    case FieldType.Tiny: return unsigned ? Wire.Uint8 : Wire.Int8;
    case FieldType.Short: return unsigned ? Wire.Uint16 : Wire.Int16;
    case FieldType.Long:
    case FieldType.Int24: return unsigned ? Wire.Uint32 : Wire.Int32;
    case FieldType.LongLong: return unsigned ? Wire.Uint64 : Wire.Int64;
    case FieldType.Float: return Wire.Float;
    case FieldType.Double: return Wire.Double;
    default: return lengthCoded(columnType) ? Wire.LengthCoded : null;
  }
}

/** What mysql2 tells of a result column. */
export interface ResultField {
  name: string;
  columnType: number;
  flags: number;
}

/** The wire forms of a result's columns, or the name and type of the first one this reader cannot decode. */
export function resultWire(fields: readonly ResultField[]): { wire: Uint8Array } | { unsupported: string } {
  const wire = new Uint8Array(fields.length);
  for (let i = 0; i < fields.length; i++) {
    const w = wireOf(fields[i].columnType, fields[i].flags);
    if (w === null) return { unsupported: `column ${fields[i].name} (protocol type ${fields[i].columnType})` };
    wire[i] = w;
  }
  return { wire };
}
