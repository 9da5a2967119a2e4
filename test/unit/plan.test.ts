import type { ListedTable } from '../../src/config/types';
import type { TableClass } from '../../src/domain/table-class';
import type { DbTable } from '../../src/db/schema';
import { classify, planBackup } from '../../src/plan/plan';
import { renderPlan } from '../../src/plan/render';

let line = 0;
const listed = (...names: string[]): ListedTable[] => names.map((name) => ({ name, line: ++line }));
const classes = (c: Partial<Record<TableClass, ListedTable[]>>): Record<TableClass, ListedTable[]> => ({ global: [], local: [], ephemeral: [], ignore: [], ...c });
const table = (name: string, engine = 'innodb'): DbTable => ({ name, kind: 'table', engine });

describe('classification conflicts', () => {
  test.each([
    ['global', 'local', 'local', /sensitive data never goes to git/],
    ['ephemeral', 'global', 'global', /its rows are saved/],
    ['ignore', 'local', 'local', /its rows are saved|sensitive/],
    ['ignore', 'global', 'global', /its rows are saved/],
    ['ignore', 'ephemeral', 'ephemeral', /its structure is saved/],
    ['local', 'ephemeral', 'local', /sensitive/],
  ] as const)('%s + %s -> %s, with a warning naming the table and both classes', (a, b, winner, reason) => {
    const { byName, warnings } = classify(classes({ [a]: listed('t'), [b]: listed('t') }), 'x.conf');
    expect(byName.get('t')).toBe(winner);
    expect(warnings).toHaveLength(1);
    expect(warnings[0].message).toContain('table t');
    expect(warnings[0].message).toContain(a);
    expect(warnings[0].message).toContain(b);
    expect(warnings[0].message).toMatch(reason);
    expect(warnings[0].message).toMatch(/x\.conf:\d+/);
  });

  test('a table in three classes gets one warning per losing class', () => {
    const { byName, warnings } = classify(classes({ global: listed('t'), local: listed('t'), ignore: listed('t') }), 'x.conf');
    expect(byName.get('t')).toBe('local');
    expect(warnings).toHaveLength(2);
  });
});

describe('planBackup', () => {
  const base = {
    configFile: '/etc/schema_backup.conf',
    userDataDir: true,
    ephemeralDir: false,
  };

  test('each class gets what it is owed', () => {
    const plan = planBackup({
      ...base,
      classes: classes({ global: listed('g'), local: listed('l'), ephemeral: listed('e'), ignore: listed('i') }),
      dbTables: [table('g'), table('l'), table('e'), table('i'), table('m', 'myisam'), { name: 'v', kind: 'view', engine: null }],
    });
    const by = Object.fromEntries(plan.tables.map((t) => [t.name, t]));
    expect(Object.keys(by).sort()).toEqual(['e', 'g', 'l', 'm']);
    expect(by.g).toMatchObject({ class: 'global', rowsToHost: true, rowsToUser: false, rowsToEphemeral: false, transactional: true });
    expect(by.l).toMatchObject({ class: 'local', rowsToHost: false, rowsToUser: true });
    expect(by.e).toMatchObject({ class: 'ephemeral', rowsToHost: false, rowsToUser: false, rowsToEphemeral: false });
    expect(by.m).toMatchObject({ class: 'unclassified', rowsToHost: false, rowsToUser: false, transactional: false });
    expect(plan.ignored).toEqual(['i']);
    expect(plan.views).toEqual(['v']);
  });

  test('an unclassified table is saved as structure, with a warning saying its rows are not', () => {
    const plan = planBackup({ ...base, classes: classes({}), dbTables: [table('new_table')] });
    expect(plan.tables.map((t) => t.class)).toEqual(['unclassified']);
    expect(plan.warnings.map((w) => w.message)).toEqual([expect.stringMatching(/new_table is not listed in any class.*rows are not backed up/)]);
  });

  test('a configured table the database lacks is a warning with file and line', () => {
    const plan = planBackup({ ...base, classes: classes({ global: [{ name: 'gone', line: 12 }] }), dbTables: [] });
    expect(plan.warnings.map((w) => w.message)).toEqual(['table gone is listed as global (/etc/schema_backup.conf:12) but the database has no such table']);
  });

  test('local rows are not saved without user_data_backup_dir, and the plan says so', () => {
    const plan = planBackup({ ...base, userDataDir: false, classes: classes({ local: listed('u') }), dbTables: [table('u')] });
    expect(plan.tables[0].rowsToUser).toBe(false);
    expect(plan.warnings.some((w) => /user_data_backup_dir is not set.*u/.test(w.message))).toBe(true);
  });

  test('ephemeral rows go to the ephemeral directory only when one is requested', () => {
    const plan = planBackup({ ...base, ephemeralDir: true, classes: classes({ ephemeral: listed('e') }), dbTables: [table('e')] });
    expect(plan.tables[0]).toMatchObject({ rowsToEphemeral: true, rowsToHost: false, rowsToUser: false });
  });

  test('renderPlan lists every table with its class and destination, and the warnings', () => {
    const plan = planBackup({ ...base, classes: classes({ global: listed('g'), ignore: listed('i') }), dbTables: [table('g'), table('i'), table('x')] });
    const text = renderPlan(plan, { host: '/b/h', user: '/u', ephemeral: null });
    expect(text).toMatch(/^g\s+global\s+structure -> \/b\/h\/g; rows -> \/b\/h\/g \(git\)$/m);
    expect(text).toMatch(/^i\s+ignore\s+untouched$/m);
    expect(text).toMatch(/^x\s+unclassified\s+.*rows not saved$/m);
    expect(text).toMatch(/warnings:\n {2}- table x is not listed/);
  });
});
