import { missingTables, missingTablesRefusal } from '../../src/plan/missing-tables';
import type { DbTable } from '../../src/db/schema';

const listed = (...names: string[]) => names.map((name, i) => ({ name, line: i + 1 }));
const tables = (...names: string[]): DbTable[] => names.map((name) => ({ name, kind: 'table', engine: 'innodb' }));
const classes = { global: listed('a', 'b'), local: listed('c', 'd'), ephemeral: listed('e'), ignore: listed('x', 'y') };
const base = { classes, configFile: '/etc/sb.conf', database: 'csv2', credentialsFile: '/etc/cs.yaml' };
const previous = ['a', 'b', 'c', 'd', 'e', 'x', 'unlisted'];

describe('missingTablesRefusal', () => {
  test('an empty database (the previous backup had the tables): refused, naming database, files and tables', () => {
    const refusal = missingTablesRefusal({ ...base, dbTables: [], previousTables: previous });
    expect(refusal).toMatch(/^database csv2 \(\/etc\/cs\.yaml\) lacks 5 of the 5 tables that \/etc\/sb\.conf lists and the last backup saved \(a, b, c, d, e\)/);
    expect(refusal).toMatch(/db_name wrong.*recreated empty.*Nothing was backed up or changed.*remove them from \/etc\/sb\.conf/);
  });

  test('another database, with other tables: refused', () => {
    expect(missingTablesRefusal({ ...base, dbTables: tables('other1', 'other2', 'e'), previousTables: previous })).toMatch(/lacks 4 of the 5 tables/);
  });

  test('half missing or fewer: a drop on purpose, allowed', () => {
    expect(missingTablesRefusal({ ...base, dbTables: tables('a', 'b', 'c'), previousTables: previous })).toBeNull();
    expect(missingTablesRefusal({ ...base, dbTables: tables('a', 'b', 'c', 'd'), previousTables: previous })).toBeNull();
    expect(missingTablesRefusal({ ...base, dbTables: tables('a', 'b'), previousTables: previous })).toMatch(/lacks 3 of the 5/);
  });

  test('first run (no previous manifest), or tables the last backup never had: nothing to lose, allowed', () => {
    expect(missingTablesRefusal({ ...base, dbTables: [], previousTables: null })).toBeNull();
    expect(missingTablesRefusal({ ...base, dbTables: tables('a'), previousTables: ['a'] })).toBeNull();
  });

  test('ignored and unlisted tables do not count; a table listed as ignore and global counts as global', () => {
    expect(missingTables({ ...base, dbTables: tables('a', 'b', 'c', 'd', 'e'), previousTables: previous })).toEqual({ expected: ['a', 'b', 'c', 'd', 'e'], missing: [] });
    const both = { ...classes, ignore: listed('a') };
    expect(missingTables({ ...base, classes: both, dbTables: [], previousTables: ['a'] })).toEqual({ expected: ['a'], missing: ['a'] });
  });

  test('long lists are shortened', () => {
    const many = listed(...Array.from({ length: 9 }, (_, i) => `t${i}`));
    const refusal = missingTablesRefusal({ ...base, classes: { global: many, local: [], ephemeral: [], ignore: [] }, dbTables: [], previousTables: many.map((t) => t.name) });
    expect(refusal).toContain('(t0, t1, t2, t3, t4 and 4 more)');
  });
});
