/**
 * Every file in test/fixtures/bad-config must be refused with a ConfigError
 * that names the file and says what its first line (`# expect: ...`) says.
 * Cases that cannot be committed as files (huge, a directory, a FIFO, an
 * unreadable file) are made here in a temp directory.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load';
import { ConfigError } from '../../src/errors';

const FIXTURES = join(__dirname, '..', 'fixtures', 'bad-config');
const INSTALL_ROOT = '/opt/schema_backup';

/** Files that cannot hold a comment. */
const EXPECT_WITHOUT_COMMENT: Record<string, string> = {
  'empty.conf': 'configuration is empty',
};

function expectedOf(name: string): string {
  const fromMap = EXPECT_WITHOUT_COMMENT[name];
  if (fromMap !== undefined) return fromMap;
  // latin1: some fixtures are deliberately not UTF-8 after the first line.
  const first = readFileSync(join(FIXTURES, name), 'latin1').split('\n')[0] ?? '';
  const m = /^# expect: (.+)$/.exec(first);
  if (!m || m[1] === undefined) throw new Error(`${name}: first line must be "# expect: <substring>"`);
  return m[1];
}

function loadError(path: string): ConfigError {
  try {
    loadConfig(path, { installRoot: INSTALL_ROOT });
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw new Error(`${path}: expected a ConfigError, got ${String(err)}`);
  }
  throw new Error(`${path}: loaded without error, expected a ConfigError`);
}

const files = readdirSync(FIXTURES).sort();

test('there are at least 45 hostile fixtures', () => {
  expect(files.length).toBeGreaterThanOrEqual(45);
});

describe.each(files)('%s', (name) => {
  test('is refused with a ConfigError naming the file and the expected problem', () => {
    const path = join(FIXTURES, name);
    const err = loadError(path);
    expect(err.message).toContain(path);
    expect(err.message).toContain(expectedOf(name));
    expect(err.problems.length).toBeGreaterThan(0);
    for (const p of err.problems) expect(p.file).toBe(path);
    expect(err.exitCode).toBe(3);
  });
});

describe('cases made at test time', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sb-bad-config-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('a file larger than 1 MiB is refused without being parsed', () => {
    const path = join(dir, 'huge.conf');
    const line = '  - csv2_table_with_a_reasonably_long_name\n';
    writeFileSync(path, `global:\n${line.repeat(Math.ceil((1024 * 1024) / line.length) + 10)}`);
    const err = loadError(path);
    expect(err.message).toContain(path);
    expect(err.message).toContain('too large');
  });

  test('a file of exactly 1 MiB is still accepted', () => {
    const path = join(dir, 'limit.conf');
    const head = 'global:\n  - csv2_user\n';
    writeFileSync(path, head + '#'.repeat(1024 * 1024 - head.length - 1) + '\n');
    expect(loadConfig(path, { installRoot: INSTALL_ROOT }).config.classes.global).toEqual([{ name: 'csv2_user', line: 2 }]);
  });

  test('a directory is refused', () => {
    const path = join(dir, 'a-directory.conf');
    mkdirSync(path);
    const err = loadError(path);
    expect(err.message).toContain(path);
    expect(err.message).toContain('is a directory');
  });

  test('a FIFO is refused at once instead of waiting for a writer', () => {
    const path = join(dir, 'fifo.conf');
    execFileSync('mkfifo', [path]);
    const started = Date.now();
    const err = loadError(path);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(err.message).toContain(path);
    expect(err.message).toContain('not a regular file');
  });

  test('a missing file is refused', () => {
    const path = join(dir, 'nope', 'schema_backup.conf');
    const err = loadError(path);
    expect(err.message).toContain(path);
    expect(err.message).toContain('does not exist');
  });

  test('a symlink loop is refused', () => {
    const path = join(dir, 'loop.conf');
    symlinkSync(path, path);
    const err = loadError(path);
    expect(err.message).toContain(path);
    expect(err.message).toContain('symbolic links');
  });

  // Tests run as root, so permission bits do not make a file unreadable.
  // /proc/self/mem opens fine but every read at offset 0 fails (EIO): a real read error.
  const unreadable = process.platform === 'linux' ? test : test.skip;
  unreadable('a file that cannot be read is refused', () => {
    const err = loadError('/proc/self/mem');
    expect(err.message).toContain('/proc/self/mem');
    expect(err.message).toContain('cannot read the configuration file');
  });

  test('a billion-laughs file fails fast', () => {
    const started = Date.now();
    const err = loadError(join(FIXTURES, 'alias-bomb.conf'));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(err.problems).toHaveLength(1);
    expect(err.message).toContain('(82 anchors and aliases in all)');
  });

  test('a file with thousands of errors reports a capped list', () => {
    const path = join(dir, 'many.conf');
    writeFileSync(path, `global:\n${'  - 1\n'.repeat(5000)}`);
    const err = loadError(path);
    expect(err.problems).toHaveLength(101);
    expect(err.problems[100]?.message).toBe('... and 4900 more problems');
  });
});
