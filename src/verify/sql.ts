/** The SQL text verify sends to read and empty its scratch database (pure; tested without a server). */
import { quoteIdent, quoteQualified } from '../db/quote';
import type { Query } from '../restore/sql';

/** Rows of `table` in the session's database; with `versioned`, its history rows too. */
export function rowCountSql(table: string, versioned: boolean): string {
  return `SELECT COUNT(*) FROM ${quoteIdent(table)}${versioned ? ' FOR SYSTEM_TIME ALL' : ''}`;
}

/** The names of the views of `database`. */
export function viewNames(database: string): Query {
  return ['SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?', [database]];
}

/** The names of the triggers of `database`. */
export function triggerNames(database: string): Query {
  return ['SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?', [database]];
}

/** One statement dropping every view of `views` in `database` (a non-empty list). */
export function dropViewsSql(database: string, views: readonly string[]): string {
  return `DROP VIEW IF EXISTS ${views.map((n) => quoteQualified(database, n)).join(', ')}`;
}

/** Tables are dropped in any order: their foreign keys must not stop it. */
export const NO_FOREIGN_KEY_CHECKS_SQL = 'SET SESSION foreign_key_checks = 0';
