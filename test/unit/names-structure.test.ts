import { quoteIdent } from '../../src/db/quote';
import type { DbView } from '../../src/db/schema';
import { orderViews, withoutAutoIncrementCounter } from '../../src/dump/structure';
import { tableFileName } from '../../src/store/names';

describe('tableFileName', () => {
  test.each([
    ['csv2_groups', 'csv2_groups'],
    ['with space', 'with space'],
    ['ünïcødé 表', 'ünïcødé 表'],
    ['select', 'select'],
    ['a`b', 'a`b'],
    ['a/b', 'a@002fb'],
    ['../etc', '@002e./etc'.replace('/', '@002f')],
    ['.hidden', '@002ehidden'],
    ['.', '@002e'],
    ['..', '@002e.'],
    ['a@b', 'a@0040b'],
    ['tab\there', 'tab@0009here'],
    ['back\\slash', 'back@005cslash'],
  ])('%j -> %j', (table, file) => {
    expect(tableFileName(table)).toBe(file);
  });

  test('never a path: no slash, never . or .., never a leading dot', () => {
    for (const name of ['/', '//', '../../x', '.git', '..', 'a/../../b', '\0']) {
      const f = tableFileName(name);
      expect(f).not.toContain('/');
      expect(f.startsWith('.')).toBe(false);
    }
  });

  test('one-to-one on names that differ only by an escape', () => {
    const names = ['a/b', 'a@002fb', 'a@b', '.x', '@002ex'];
    expect(new Set(names.map(tableFileName)).size).toBe(names.length);
  });

  test('64 four-byte characters fit in a file name (255 bytes) and stay distinct', () => {
    const a = '😀'.repeat(64);
    const b = '😀'.repeat(63) + '😁';
    expect(Buffer.byteLength(tableFileName(a))).toBeLessThanOrEqual(255);
    expect(tableFileName(a)).not.toBe(tableFileName(b));
  });
});

describe('quoteIdent', () => {
  test.each([
    ['plain', '`plain`'],
    ['a`b', '`a``b`'],
    ['``', '``````'],
    ["'; DROP TABLE x; --", "`'; DROP TABLE x; --`"],
  ])('%j -> %s', (name, quoted) => expect(quoteIdent(name)).toBe(quoted));
  test('refuses an empty name and NUL', () => {
    expect(() => quoteIdent('')).toThrow();
    expect(() => quoteIdent('a\0b')).toThrow(/NUL/);
  });
});

describe('structure text', () => {
  test('the AUTO_INCREMENT counter is dropped, the column attribute and comments are kept', () => {
    const create = 'CREATE TABLE `t` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB AUTO_INCREMENT=42 DEFAULT CHARSET=utf8mb4 COMMENT=\'AUTO_INCREMENT=7\'';
    const out = withoutAutoIncrementCounter(create);
    expect(out).toContain('NOT NULL AUTO_INCREMENT,');
    expect(out).toContain(') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4');
    expect(out).not.toContain('AUTO_INCREMENT=42');
    expect(out).toContain("COMMENT='AUTO_INCREMENT=7'");
  });

  test('views come after the views they use; the order is a stable depth-first walk by name', () => {
    const view = (name: string, uses: string[]): DbView => ({ name, createStatement: `CREATE VIEW \`${name}\` AS select 1 from ${uses.map((u) => `\`${u}\``).join(', ') || 'dual'}` });
    const ordered = orderViews([view('a_top', ['m_mid']), view('m_mid', ['z_base']), view('z_base', []), view('b_alone', [])]).map((v) => v.name);
    expect(ordered).toEqual(['z_base', 'm_mid', 'a_top', 'b_alone']);
    const shuffled = orderViews([view('b_alone', []), view('z_base', []), view('a_top', ['m_mid']), view('m_mid', ['z_base'])]).map((v) => v.name);
    expect(shuffled).toEqual(ordered);
  });
});
