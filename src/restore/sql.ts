/**
 * The SQL text a restore sends besides the backup's own statements (pure):
 * catalogue reads with their bound values, and the statements that name the
 * target database. Executed by restore/run.ts and verify; tested without a server.
 */
import { quoteIdent, quoteQualified } from '../db/quote';

/** A statement with `?` placeholders and the values bound to them: `db.queryArrays(...query)`. */
export type Query = [sql: string, values: string[]];

/** One row when `database` exists. */
export function schemaExists(database: string): Query {
  return ['SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [database]];
}

/** Every table, view and sequence of `database`: [name, TABLE_TYPE]. */
export function schemaObjects(database: string): Query {
  return ['SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [database]];
}

/** One row when `table` has a primary or unique key (rows can be matched by it). */
export function uniqueKeyOf(database: string, table: string): Query {
  return ['SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 LIMIT 1', [database, table]];
}

/** How many accounts `user`@`host` names (0 or 1): a DEFINER that does not exist fails when used. */
export function accountCount(user: string, host: string): Query {
  return ['SELECT COUNT(*) FROM mysql.user WHERE User = ? AND Host = ?', [user, host]];
}

export function showCreateTableSql(database: string, table: string): string {
  return `SHOW CREATE TABLE ${quoteQualified(database, table)}`;
}

export function createDatabaseSql(database: string): string {
  return `CREATE DATABASE ${quoteIdent(database)}`;
}

export function dropDatabaseSql(database: string): string {
  return `DROP DATABASE IF EXISTS ${quoteIdent(database)}`;
}

export function useDatabaseSql(database: string): string {
  return `USE ${quoteIdent(database)}`;
}

/** One statement dropping every table of `tables` in `database` (a non-empty list). */
export function dropTablesSql(database: string, tables: readonly string[]): string {
  return `DROP TABLE IF EXISTS ${tables.map((n) => quoteQualified(database, n)).join(', ')}`;
}
