/** The SQL text restore and verify send besides the backup's statements (pure): names quoted, values bound, never spliced. */
import {
  accountCount,
  createDatabaseSql,
  dropDatabaseSql,
  dropTablesSql,
  schemaExists,
  schemaObjects,
  showCreateTableSql,
  uniqueKeyOf,
  useDatabaseSql,
} from '../../src/restore/sql';
import { NO_FOREIGN_KEY_CHECKS_SQL, dropViewsSql, rowCountSql, triggerNames, viewNames } from '../../src/verify/sql';

const HOSTILE = "we`ird'; DROP DATABASE x; --";

test('catalogue reads bind the names as values, whatever they hold', () => {
  expect(schemaExists(HOSTILE)).toEqual(['SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [HOSTILE]]);
  expect(schemaObjects('csv2')).toEqual(['SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', ['csv2']]);
  expect(uniqueKeyOf('csv2', HOSTILE)).toEqual([
    'SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 LIMIT 1',
    ['csv2', HOSTILE],
  ]);
  expect(accountCount('app', '%')).toEqual(['SELECT COUNT(*) FROM mysql.user WHERE User = ? AND Host = ?', ['app', '%']]);
  expect(viewNames('sbverify_1')).toEqual(['SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?', ['sbverify_1']]);
  expect(triggerNames('sbverify_1')).toEqual(['SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?', ['sbverify_1']]);
  for (const [sql] of [schemaExists(HOSTILE), uniqueKeyOf(HOSTILE, HOSTILE)]) expect(sql).not.toContain('DROP');
});

test('statements naming the target quote it as an identifier', () => {
  expect(createDatabaseSql('csv2')).toBe('CREATE DATABASE `csv2`');
  expect(dropDatabaseSql('a`b')).toBe('DROP DATABASE IF EXISTS `a``b`');
  expect(useDatabaseSql(HOSTILE)).toBe("USE `we``ird'; DROP DATABASE x; --`");
  expect(showCreateTableSql('csv2', 'my table')).toBe('SHOW CREATE TABLE `csv2`.`my table`');
});

test('one DROP names every table (or view), each qualified by its database', () => {
  expect(dropTablesSql('csv2', ['_sbr_0123abcd_0011223344556677', 'a`b'])).toBe('DROP TABLE IF EXISTS `csv2`.`_sbr_0123abcd_0011223344556677`, `csv2`.`a``b`');
  expect(dropViewsSql('s', ['v1', 'v 2'])).toBe('DROP VIEW IF EXISTS `s`.`v1`, `s`.`v 2`');
  expect(NO_FOREIGN_KEY_CHECKS_SQL).toBe('SET SESSION foreign_key_checks = 0');
});

test('a row count reads the history of a system-versioned table too', () => {
  expect(rowCountSql('t`1', false)).toBe('SELECT COUNT(*) FROM `t``1`');
  expect(rowCountSql('t', true)).toBe('SELECT COUNT(*) FROM `t` FOR SYSTEM_TIME ALL');
});
