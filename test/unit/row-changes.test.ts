/** Rows added, changed and removed between two table files, for commit messages (pure). */
import { describeRowChanges, rowChanges, rowTuples, tupleValues } from '../../src/store/row-changes';
import { commitMessage } from '../../src/git/repo';

const file = (...rows: string[]) => `-- head\nDROP TABLE IF EXISTS \`t\`;\n-- Rows\nINSERT INTO \`t\` VALUES (${rows.join('),(')});\n`;

describe('row changes', () => {
  test('tuples come from every INSERT line, split on ),( only', () => {
    expect(rowTuples(file("1,'a)\\,(b'", '2,NULL') + "INSERT INTO `t` VALUES (3,'x');\n")).toEqual(["1,'a)\\,(b'", '2,NULL', "3,'x'"]);
  });

  test('values are cut at commas outside quotes, escapes skipped', () => {
    expect(tupleValues("1,'a,b','c\\',d',NULL,X'00'")).toEqual(['1', "'a,b'", "'c\\',d'", 'NULL', "X'00'"]);
  });

  test('by primary key: added, changed, removed, with the first keys', () => {
    const before = file("'g1','k1','v'", "'g1','k2','v'", "'g2','k1','v'");
    const after = file("'g1','k1','v'", "'g1','k2','changed'", "'g3','k9','new'");
    const c = rowChanges(before, after, [0, 1]);
    expect(c).toEqual({ added: 1, changed: 1, removed: 1, keys: ["('g1','k2')", "('g3','k9')", "('g2','k1')"] });
    expect(describeRowChanges(c)).toBe("1 added, 1 changed, 1 removed: ('g1','k2'), ('g3','k9'), ('g2','k1')");
  });

  test('without a key a changed row is one added and one removed; long keys are shortened', () => {
    const long = `'${'x'.repeat(200)}'`;
    const c = rowChanges(file('1,2'), file(`1,${long}`), []);
    expect(c.added).toBe(1);
    expect(c.removed).toBe(1);
    expect(c.keys[0].length).toBeLessThanOrEqual(86);
  });

  test('at most five keys are named', () => {
    const after = file(...Array.from({ length: 9 }, (_, i) => `${i},'v'`));
    const c = rowChanges('', after, [0]);
    expect(c.keys).toEqual(['0', '1', '2', '3', '4']);
    expect(describeRowChanges(c)).toBe('9 added, 0 changed, 0 removed: 0, 1, 2, 3, 4, ...');
  });

  test('the commit message lists each table with rows changed', () => {
    const msg = commitMessage('h', { structure: [], rows: ['b', 'a'], removed: [], views: false, rowDetails: { b: '1 added, 0 changed, 0 removed: 7', a: '0 added, 2 changed, 0 removed: 1, 2' } });
    expect(msg).toBe('h: b, a\n\nrows: b, a\n  a: 0 added, 2 changed, 0 removed: 1, 2\n  b: 1 added, 0 changed, 0 removed: 7\n');
  });
});
