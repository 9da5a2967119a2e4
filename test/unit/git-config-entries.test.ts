import { parseConfigEntries } from '../../src/git/repo';

test('git config -z --show-scope output: scope, key and value per entry, a value with a newline kept whole', () => {
  // Captured from git 2.39: `git config -z --show-scope --get-regexp '^(diff\.schema_backup\.textconv|user\.email)$'`.
  const out = "local\0diff.schema_backup.textconv\nsed -e 's/),(/),\\n(/g'\0global\0user.email\na@b\0command\0user.email\nx\ny\0";
  expect(parseConfigEntries(out)).toEqual([
    { scope: 'local', key: 'diff.schema_backup.textconv', value: "sed -e 's/),(/),\\n(/g'" },
    { scope: 'global', key: 'user.email', value: 'a@b' },
    { scope: 'command', key: 'user.email', value: 'x\ny' },
  ]);
});

test('a key set without a value has none; no output is no entry', () => {
  expect(parseConfigEntries('local\0user.email\0')).toEqual([{ scope: 'local', key: 'user.email', value: null }]);
  expect(parseConfigEntries('')).toEqual([]);
});

test('without --show-scope (git before 2.26) every entry takes the scope it was read with', () => {
  // Captured from `git config -z --local --list`.
  expect(parseConfigEntries('core.bare\nfalse\0user.email\0diff.schema_backup.textconv\na\nb\0', 'local')).toEqual([
    { scope: 'local', key: 'core.bare', value: 'false' },
    { scope: 'local', key: 'user.email', value: null },
    { scope: 'local', key: 'diff.schema_backup.textconv', value: 'a\nb' },
  ]);
  expect(parseConfigEntries('', 'any')).toEqual([]);
});
