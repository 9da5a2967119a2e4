/** What the server says the database holds: the inputs of planning and dumping. */

export interface DbColumn {
  name: string;
  /** information_schema DATA_TYPE, lower case (int, varchar, blob, point, ...). */
  dataType: string;
  /** Generated (virtual or stored) columns are never inserted. */
  generated: boolean;
  /** INVISIBLE columns: left out of SELECT * and of a bare INSERT ... VALUES. */
  invisible?: boolean;
  /** An ENUM with '' among its members: its error value (index 0, also read as '') needs telling apart. */
  enumWithEmptyMember?: boolean;
  /**
   * A DOUBLE without (M,D) or ZEROFILL: the server already prints it as the
   * shortest text that reads back to the same bits, as CAST(... AS DOUBLE) does.
   */
  plainDouble?: boolean;
  /** ZEROFILL: the text protocol pads the value with zeros to its display width. */
  zerofill?: boolean;
  /** The row start or end column of a system-versioned table (a declared one: saved, not recomputed). */
  period?: 'start' | 'end';
}

/** A system-versioned table: the columns holding each row version's period. */
export interface SystemVersioning {
  rowStart: string;
  rowEnd: string;
  /** Declared without period columns: ROW_START/ROW_END are invisible pseudo-columns. */
  implicit: boolean;
}

export interface DbTable {
  name: string;
  kind: 'table' | 'view' | 'sequence';
  /** Storage engine, lower case (innodb, myisam, aria, ...); null for views. */
  engine: string | null;
  /** The server's estimate of its rows (information_schema.TABLES.TABLE_ROWS): for progress only, never exact. */
  estimatedRows?: number | null;
}

export interface DbTableDetail {
  name: string;
  columns: DbColumn[];
  /** Primary key columns in key order; empty when the table has none. */
  primaryKey: string[];
  /** Set for a system-versioned table: its history rows are saved too. */
  versioning?: SystemVersioning;
}

export interface DbTrigger {
  name: string;
  table: string;
  /** Full CREATE TRIGGER statement as SHOW CREATE TRIGGER gives it. */
  createStatement: string;
  sqlMode: string;
}

export interface DbView {
  name: string;
  /** Full CREATE VIEW statement as SHOW CREATE VIEW gives it. */
  createStatement: string;
}

/** Engines whose reads are covered by the consistent snapshot. */
export function isTransactional(engine: string | null): boolean {
  return engine === 'innodb';
}
