/** Pure parts of the data kinds that need more than a plain INSERT: ENUM members, sequences in staging, versioned merges. */
import { enumHasEmptyMember } from '../../src/db/introspect';
import { mergeStatements } from '../../src/restore/commit';
import { stagingCreate } from '../../src/restore/staging';
import { classifyStatement } from '../../src/restore/statements';

test.each([
  ["enum('','up')", true],
  ["enum('up','')", true],
  ["enum('a''','b')", false],
  ["enum('''','x')", false],
  ["enum('x\\\\','it''s')", false],
  ["enum('new','running')", false],
])('enumHasEmptyMember(%s) is %s', (type, expected) => {
  expect(enumHasEmptyMember(type)).toBe(expected);
});

test('a sequence stages under its staging name, and another name is refused', () => {
  const create = 'CREATE SEQUENCE `s` start with 1000 minvalue 10 maxvalue 999999 increment by 7 cache 5 cycle ENGINE=InnoDB';
  expect(classifyStatement(create)).toBe('create-sequence');
  expect(stagingCreate(create, 's', '_sbr_x')).toEqual({ create: 'CREATE SEQUENCE `_sbr_x` start with 1000 minvalue 10 maxvalue 999999 increment by 7 cache 5 cycle ENGINE=InnoDB', foreignKeys: [] });
  expect(() => stagingCreate(create, 'other', '_sbr_x')).toThrow(/creates sequence `s`, not `other`/);
});

test('a versioned merge skips rows the target holds byte for byte, then adds history rows', () => {
  const [current, history] = mergeStatements('db', { table: 't', staging: 'st', columns: ['id', 'v'], history: { rowStart: 'ROW_START', rowEnd: 'ROW_END' } });
  expect(current).toBe(
    'INSERT INTO `db`.`t` (`id`,`v`) SELECT s.`id`,s.`v` FROM `db`.`st` s WHERE NOT EXISTS (SELECT 1 FROM `db`.`t` o WHERE BINARY o.`id` <=> BINARY s.`id` AND BINARY o.`v` <=> BINARY s.`v`) ON DUPLICATE KEY UPDATE `id` = VALUES(`id`), `v` = VALUES(`v`)',
  );
  expect(history).toBe('INSERT IGNORE INTO `db`.`t` (`id`,`v`,`ROW_START`,`ROW_END`) SELECT `id`,`v`,`ROW_START`,`ROW_END` FROM `db`.`st` FOR SYSTEM_TIME ALL WHERE `ROW_END` < NOW(6)');
  expect(mergeStatements('db', { table: 't', staging: 'st', columns: ['id'] })).toEqual(['INSERT INTO `db`.`t` (`id`) SELECT `id` FROM `db`.`st` ON DUPLICATE KEY UPDATE `id` = VALUES(`id`)']);
});
