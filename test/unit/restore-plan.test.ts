import { parseRestoreArgs } from '../../src/cli/restore-args';
import { planRestore } from '../../src/restore/plan';
import type { SourceTable } from '../../src/restore/source';
import { classifyStatement, createdName, definerOf, withCurrentDefiner } from '../../src/restore/statements';

const table = (name: string, cls: SourceTable['class'], rowsSaved: boolean): SourceTable => ({
  table: name,
  class: cls,
  path: `/b/${name}`,
  compressed: false,
  rowsSaved,
  rows: rowsSaved ? 5 : null,
  statementBytes: null,
  contentSha256: rowsSaved ? 'c' : null,
  sha256: 's',
  origin: cls === 'local' ? 'user' : 'host',
  triggers: [],
});

const TABLES = [table('g', 'global', true), table('l', 'local', true), table('l2', 'local', false), table('e', 'ephemeral', false), table('u', 'unclassified', false)];
const none = { tables: new Set<string>(), views: new Set<string>() };

describe('planRestore', () => {
  test('a whole restore into an empty database: rows for global and local, views, no conflicts', () => {
    const p = planRestore(TABLES, { tables: null, only: null, mode: 'empty' }, none, ['v']);
    expect(p.tables.map((t) => [t.source.table, t.withRows, t.action])).toEqual([
      ['g', true, 'create'],
      ['l', true, 'create'],
      ['l2', false, 'create'],
      ['e', false, 'create'],
      ['u', false, 'create'],
    ]);
    expect(p.views).toBe(true);
    expect(p.conflicts).toEqual([]);
  });

  test('default mode refuses, naming every existing table and view', () => {
    const p = planRestore(TABLES, { tables: null, only: null, mode: 'empty' }, { tables: new Set(['l', 'x']), views: new Set(['v']) }, ['v']);
    expect(p.conflicts).toEqual(['l', 'v']);
  });

  test('merge and replace act on existing tables; a view in a table\'s place is still a conflict', () => {
    const target = { tables: new Set(['g']), views: new Set(['l']) };
    const merge = planRestore(TABLES, { tables: null, only: null, mode: 'merge' }, target, []);
    expect(merge.tables.find((t) => t.source.table === 'g')?.action).toBe('merge');
    expect(merge.conflicts).toEqual(['l']);
    const replace = planRestore(TABLES, { tables: ['g'], only: null, mode: 'replace' }, target, []);
    expect(replace.tables.map((t) => [t.source.table, t.action])).toEqual([['g', 'replace']]);
    expect(replace.conflicts).toEqual([]);
  });

  test('--only and --tables select; views only with the whole backup; unknown names reported', () => {
    expect(planRestore(TABLES, { tables: null, only: 'global', mode: 'empty' }, none, ['v']).tables.map((t) => t.source.table)).toEqual(['g']);
    const structure = planRestore(TABLES, { tables: null, only: 'structure', mode: 'empty' }, none, ['v']);
    expect(structure.tables.every((t) => !t.withRows)).toBe(true);
    expect(structure.views).toBe(true);
    const some = planRestore(TABLES, { tables: ['l', 'nope'], only: null, mode: 'empty' }, none, ['v']);
    expect(some.tables.map((t) => t.source.table)).toEqual(['l']);
    expect(some.views).toBe(false);
    expect(some.unknown).toEqual(['nope']);
  });
});

describe('statements', () => {
  test('classifies the statements of backup files', () => {
    expect(classifyStatement("/*!40101 SET NAMES utf8mb4 */")).toBe('session');
    expect(classifyStatement("/*!50003 SET SESSION SQL_MODE='' */")).toBe('trigger-mode');
    expect(classifyStatement('/*!50003 DROP TRIGGER IF EXISTS `t` */')).toBe('drop-trigger');
    expect(classifyStatement('INSERT INTO `t` (`a`) VALUES\n(1)')).toBe('insert');
    expect(classifyStatement('CREATE TABLE `t` (a int)')).toBe('create-table');
    expect(classifyStatement('CREATE DEFINER=`r``x`@`%` trigger tg before insert on g for each row set new.v=1')).toBe('create-trigger');
    expect(classifyStatement('CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW `v` AS select 1')).toBe('create-view');
    expect(classifyStatement('SELECT 1')).toBe('other');
  });

  test('definer: read, and replaced by CURRENT_USER; object names read', () => {
    const view = 'CREATE ALGORITHM=UNDEFINED DEFINER=`we``ird`@`h.%` SQL SECURITY DEFINER VIEW `v``1` AS select 1';
    expect(definerOf(view)).toEqual(['we`ird', 'h.%']);
    expect(withCurrentDefiner(view)).toBe('CREATE ALGORITHM=UNDEFINED DEFINER=CURRENT_USER SQL SECURITY DEFINER VIEW `v``1` AS select 1');
    expect(createdName(view, 'VIEW')).toBe('v`1');
    expect(createdName('CREATE DEFINER=`a`@`b` trigger tg before insert on g for each row set new.v=1', 'TRIGGER')).toBe('tg');
  });
});

describe('parseRestoreArgs', () => {
  test('defaults and flags', () => {
    expect(parseRestoreArgs([])).toMatchObject({ snapshot: 'latest', mode: 'empty', serviceMode: 'default', database: null, tables: null, only: null, dryRun: false });
    expect(parseRestoreArgs(['--tables', 'a, b', '--only=local', '--replace', '--online', '--snapshot', '20240101120000', '--database', 'x', '--definer', 'current'])).toMatchObject({
      tables: ['a', 'b'],
      only: 'local',
      mode: 'replace',
      serviceMode: 'online',
      snapshot: '20240101120000',
      database: 'x',
      definer: 'current',
    });
  });

  test.each([[['--merge', '--replace']], [['-m', '--online']], [['--only', 'rows']], [['--snapshot', 'yesterday']], [['--bogus']], [['--definer', 'root']]])('refuses %j', (argv) => {
    expect(() => parseRestoreArgs(argv)).toThrow();
  });
});
