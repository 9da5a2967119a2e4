/** What a restore needs and what a user has (pure): database grants with wildcards, SET USER for other definers, the GRANT to ask for. */
import { missingPrivileges, patternCovers, privilegeProblem, type Grants, type PrivilegeNeeds } from '../../src/restore/privileges';

const ALL = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'ALTER', 'CREATE VIEW', 'SHOW VIEW', 'TRIGGER'];
const app = (pattern: string, privileges = ALL): Grants => ({ user: 'csv2', host: '%', global: new Set(['USAGE']), schemas: [{ pattern, privileges: new Set(privileges) }], roleActive: false });
const needs = (over: Partial<PrivilegeNeeds> = {}): PrivilegeNeeds => ({ database: 'csv2_db', createDatabase: false, merge: true, triggers: true, views: true, foreignDefiners: [], ...over });

test('database grant patterns: _ and % are wildcards, \\ escapes them', () => {
  expect(patternCovers('csv2\\_db', 'csv2_db')).toBe(true);
  expect(patternCovers('csv2\\_db', 'csv2xdb')).toBe(false);
  expect(patternCovers('csv2_db', 'csv2xdb')).toBe(true);
  expect(patternCovers('csv2%', 'csv2_restore')).toBe(true);
  expect(patternCovers('other', 'csv2_db')).toBe(false);
});

test('ALL PRIVILEGES on the database is enough; nothing global is needed', () => {
  expect(privilegeProblem(app('csv2\\_db'), needs(), 'restore')).toBeNull();
  expect(privilegeProblem(app('csv2\\_db'), needs({ createDatabase: true }), 'restore')).toBeNull();
});

test('what is missing is named, with the GRANT that gives it', () => {
  const m = missingPrivileges(app('csv2\\_db', ['SELECT', 'INSERT', 'CREATE']), needs());
  expect(m.onDatabase).toEqual(['DROP', 'ALTER', 'UPDATE', 'TRIGGER', 'CREATE VIEW', 'SHOW VIEW']);
  expect(m.grants).toEqual(["GRANT DROP, ALTER, UPDATE, TRIGGER, CREATE VIEW, SHOW VIEW ON `csv2\\_db`.* TO 'csv2'@'%'"]);
  expect(missingPrivileges(app('other'), needs({ merge: false, triggers: false, views: false })).onDatabase).toEqual(['SELECT', 'INSERT', 'CREATE', 'DROP', 'ALTER']);
});

test('definers other than the restoring user need SET USER (or --definer current)', () => {
  const text = privilegeProblem(app('csv2\\_db'), needs({ foreignDefiners: ['`root`@`localhost`'] }), 'restore into database csv2_db');
  expect(text).toMatch(/^csv2@% lacks the privileges to restore into database csv2_db: SET USER, to keep the definer `root`@`localhost`.*--definer current/);
  expect(text).toMatch(/GRANT SET USER ON \*\.\* TO 'csv2'@'%'/);
  expect(privilegeProblem({ ...app('x'), global: new Set([...ALL, 'SET USER']) }, needs({ foreignDefiners: ['`root`@`localhost`'] }), 'restore')).toBeNull();
});
