/**
 * The CSV2 wrapper's text and the install decision (src/install/csv2-wrapper.ts),
 * and the root the defaults come from (defaultsRoot). The rendered wrapper is
 * run by the real /bin/sh, with a stand-in for node that reports what it got.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfigPath } from '../../src/config/load';
import { defaultsRoot, installRoot } from '../../src/config/paths';
import { decideInstall, isOwnWrapper, renderWrapper, shellQuote, wrapperPathProblem, type Existing } from '../../src/install/csv2-wrapper';
import { runAllowingFailure } from '../../src/proc/run';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

afterAll(cleanupTempDirs);

describe('defaultsRoot', () => {
  test('is the install root when $SCHEMA_BACKUP_ROOT is unset or empty (behaviour without the wrapper)', () => {
    expect(defaultsRoot({})).toBe(installRoot());
    expect(defaultsRoot({ SCHEMA_BACKUP_ROOT: '' })).toBe(installRoot());
  });
  test('is $SCHEMA_BACKUP_ROOT when set, relative ones taken from the current directory', () => {
    expect(defaultsRoot({ SCHEMA_BACKUP_ROOT: '/opt/cloudscheduler' })).toBe('/opt/cloudscheduler');
    expect(defaultsRoot({ SCHEMA_BACKUP_ROOT: 'cs/' })).toBe(join(process.cwd(), 'cs'));
  });
  test('gives the default configuration path; --config and $SCHEMA_BACKUP_CONF still come first', () => {
    const env = { SCHEMA_BACKUP_ROOT: '/opt/cloudscheduler' };
    expect(resolveConfigPath({ env, installRoot: defaultsRoot(env) })).toBe('/opt/cloudscheduler/etc/schema_backup.conf');
    const withConf = { ...env, SCHEMA_BACKUP_CONF: '/c/d.conf' };
    expect(resolveConfigPath({ env: withConf, installRoot: defaultsRoot(withConf) })).toBe('/c/d.conf');
    expect(resolveConfigPath({ cliPath: '/a/b.conf', env, installRoot: defaultsRoot(env) })).toBe('/a/b.conf');
  });
});

describe('shellQuote', () => {
  test.each([['plain'], ["it's"], ['a b'], ['$HOME'], ['`x`'], ['"q"'], ['\\'], ["''"]])('%s survives /bin/sh', async (s) => {
    const result = await runAllowingFailure('/bin/sh', ['-c', `printf %s ${shellQuote(s)}`]);
    expect(result.stdout).toBe(s);
  });
});

describe('renderWrapper', () => {
  function setup(rootName: string): { root: string; node: string; cli: string; wrapper: string } {
    const dir = tempDir('sb-wrapper-');
    const root = join(dir, rootName);
    mkdirSync(join(root, 'utilities'), { recursive: true });
    // Stands in for node: prints its arguments, one per line, then the two variables.
    const node = join(dir, 'fake node');
    writeFileSync(node, '#!/bin/sh\nfor a in "$@"; do printf "arg:%s\\n" "$a"; done\nprintf "root:%s\\nconf:%s\\n" "$SCHEMA_BACKUP_ROOT" "${SCHEMA_BACKUP_CONF-unset}"\n');
    chmodSync(node, 0o755);
    const cli = join(dir, 'dist', 'schema_backup.js');
    mkdirSync(join(dir, 'dist'));
    writeFileSync(cli, '');
    const wrapper = join(root, 'utilities', 'schema_backup');
    writeFileSync(wrapper, renderWrapper({ root, node, cli, installDir: dir }), { mode: 0o755 });
    return { root, node, cli, wrapper };
  }

  test('execs node with the CLI and every argument unchanged, naming the root and dropping $SCHEMA_BACKUP_CONF', async () => {
    const { root, cli, wrapper } = setup("cloud scheduler's root");
    const args = ['--ephemeral-directory', '/tmp/e dir', '--target', '', "it's", '$HOME', '*'];
    const result = await runAllowingFailure(wrapper, args, { env: { PATH: '/usr/bin:/bin', SCHEMA_BACKUP_CONF: '/elsewhere.conf' }, cwd: '/' });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe([cli, ...args].map((a) => `arg:${a}\n`).join('') + `root:${root}\nconf:unset\n`);
  });

  test('says what to do, exit 127, when node or the CLI is gone', async () => {
    const { node, wrapper } = setup('cs');
    writeFileSync(node, '');
    chmodSync(node, 0o644);
    const result = await runAllowingFailure(wrapper, ['--target']);
    expect(result.code).toBe(127);
    expect(result.stderr).toMatch(/is missing \(moved or removed\?\): reinstall the wrapper: cd '.*' && npm run install-csv2 -- --root '.*\/cs'/);
  });

  test('holds only the paths it was given: the same inputs give the same text', () => {
    const t = { root: '/opt/cloudscheduler', node: '/usr/bin/node', cli: '/opt/sb/dist/src/cli/schema_backup.js', installDir: '/opt/sb' };
    const text = renderWrapper(t);
    expect(renderWrapper({ ...t })).toBe(text);
    expect(isOwnWrapper(text)).toBe(true);
    // Every non-comment line: the shell's own words and the given paths, nothing from the environment.
    const code = text.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(code).toEqual([
      "SCHEMA_BACKUP_ROOT='/opt/cloudscheduler'",
      'export SCHEMA_BACKUP_ROOT',
      'unset SCHEMA_BACKUP_CONF',
      "node='/usr/bin/node'",
      "cli='/opt/sb/dist/src/cli/schema_backup.js'",
      'if [ ! -x "$node" ] || [ ! -f "$cli" ]; then',
      `  echo "schema_backup: $node or $cli is missing (moved or removed?): reinstall the wrapper: cd '/opt/sb' && npm run install-csv2 -- --root '/opt/cloudscheduler'" >&2`,
      '  exit 127',
      'fi',
      'exec "$node" "$cli" "$@"',
    ]);
  });

  test('paths must be absolute and on one line', () => {
    expect(wrapperPathProblem('/opt/cloudscheduler')).toBeNull();
    expect(wrapperPathProblem('opt/cloudscheduler')).toMatch(/absolute/);
    expect(wrapperPathProblem('/opt/x\ny')).toMatch(/control character/);
  });
});

describe('decideInstall', () => {
  const wanted = renderWrapper({ root: '/r', node: '/n', cli: '/c', installDir: '/i' });
  const older = renderWrapper({ root: '/r', node: '/old/node', cli: '/c', installDir: '/i' });
  const foreign = '#!/usr/bin/env python3\n# CSV2 schema_backup\n';
  const file = (content: string | null, executable = true): Existing => ({ kind: 'file', content, executable });
  test.each<[string, Existing, boolean, string]>([
    ['nothing there', { kind: 'missing' }, false, 'create'],
    ['the same wrapper', file(wanted), false, 'unchanged'],
    ['the same wrapper, not executable', file(wanted, false), false, 'update'],
    ['an older wrapper of ours', file(older), false, 'update'],
    ["CSV2's own script", file(foreign), false, 'refuse'],
    ["CSV2's own script, --force", file(foreign), true, 'replace'],
    ['a large file', file(null), false, 'refuse'],
    ['a symbolic link', { kind: 'symlink' }, false, 'refuse'],
    ['a symbolic link, --force', { kind: 'symlink' }, true, 'replace'],
    ['a directory, --force', { kind: 'directory' }, true, 'refuse'],
    ['a FIFO, --force', { kind: 'other' }, true, 'refuse'],
  ])('%s: %s', (_what, existing, force, action) => {
    expect(decideInstall(existing, wanted, force).action).toBe(action);
  });

  test('a refusal says whether --force would do', () => {
    expect(decideInstall(file(foreign), wanted, false)).toMatchObject({ reason: expect.stringMatching(/pass --force/) });
    expect(decideInstall({ kind: 'directory' }, wanted, true)).toMatchObject({ reason: expect.not.stringMatching(/--force/) });
  });
});
