/**
 * Where things go, and what a rerun does: git commits only on change, the
 * private user-data snapshot and its `latest` link, ephemeral rows nowhere
 * but the requested directory, views and triggers restorable.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { createTestDatabase, mariadbClient, type TestDatabase } from '../helpers/db';
import { fakeGit, gitEnv, gitLog, type LogEntry } from '../helpers/git';
import { DIFF_TEXTCONV } from '../../src/git/repo';
import { run } from '../../src/proc/run';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';
import { runCli, writeConfig } from '../helpers/backup';

const HOST = 'store-host';
let db: TestDatabase;
let work: string;
let config: string;

async function filesUnder(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const walk = async (d: string): Promise<void> => {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.name === '.git') continue;
      if (e.isDirectory()) await walk(p);
      else out.set(p, (await fs.lstat(p)).mtimeMs);
    }
  };
  await walk(dir);
  return out;
}

async function runGit(dir: string, args: string[]): Promise<string> {
  return (await run('git', args, { cwd: dir, env: gitEnv() })).stdout;
}

async function backup(extra: string[] = []): Promise<void> {
  const r = await runCli(['--config', config, '--host-name', HOST, '--online', ...extra]);
  if (r.code !== 0) throw new Error(`schema_backup exited ${r.code}: ${r.stderr}`);
}

beforeAll(async () => {
  db = await createTestDatabase('store');
  work = tempDir('store-');
  await db.conn.query(`
    CREATE TABLE settings (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(40), value TEXT);
    CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(40), secret VARCHAR(40));
    CREATE TABLE jobs (id INT PRIMARY KEY AUTO_INCREMENT, state VARCHAR(20));
    CREATE TABLE django_session (id INT PRIMARY KEY, data TEXT);
    CREATE TABLE stray (id INT PRIMARY KEY);
    INSERT INTO settings (name, value) VALUES ('a', '1'), ('b', '2'), ('c', '3');
    INSERT INTO users VALUES (1, 'alice', 'sekrit-alice'), (2, 'bob', 'sekrit-bob');
    INSERT INTO jobs (state) VALUES ('EPHEMERAL-ROW-1'), ('EPHEMERAL-ROW-2');
    INSERT INTO django_session VALUES (1, 'IGNORED-ROW');
    INSERT INTO stray VALUES (42);
    CREATE VIEW user_names AS SELECT name FROM users;
    CREATE VIEW user_names_upper AS SELECT UPPER(name) AS n FROM user_names;
    CREATE TRIGGER settings_default BEFORE INSERT ON settings FOR EACH ROW SET NEW.value = IFNULL(NEW.value, 'default');
  `);
  config = writeConfig(work, {
    csv2BackupDir: join(work, 'git'),
    userDataBackupDir: join(work, 'user'),
    stateDir: join(work, 'state'),
    credentialsFile: db.credentialsFile,
    global: ['settings'],
    local: ['users'],
    ephemeral: ['jobs'],
    ignore: ['django_session'],
  });
  await backup();
}, 60000);

afterAll(async () => {
  await db?.drop();
  cleanupTempDirs();
});

test('layout: host files for every non-ignored table, views apart, rows only where their class allows', async () => {
  const hostDir = join(work, 'git', HOST);
  const plain = (await fs.readdir(hostDir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name).sort();
  expect(plain).toEqual(['jobs', 'settings', 'stray', 'users']);
  const settings = await fs.readFile(join(hostDir, 'settings'), 'utf8');
  expect(settings).toContain("(3,'c','3')");
  const users = await fs.readFile(join(hostDir, 'users'), 'utf8');
  expect(users).toContain('CREATE TABLE `users`');
  expect(users).not.toContain('sekrit');
  expect(await fs.readFile(join(hostDir, 'stray'), 'utf8')).not.toContain('42)');
  const views = await fs.readFile(join(hostDir, '.schema_backup', 'views.sql'), 'utf8');
  expect(views.indexOf('VIEW `user_names` AS')).toBeLessThan(views.indexOf('VIEW `user_names_upper` AS'));
  expect(views.indexOf('VIEW `user_names` AS')).toBeGreaterThan(0);
});

test('ephemeral and ignored rows appear in no backup file', async () => {
  for (const [file] of await filesUnder(work)) {
    if ((await fs.lstat(file)).isSymbolicLink()) continue; // `latest`: its target is walked itself
    const text = await fs.readFile(file, 'latin1');
    expect({ file, ephemeral: text.includes('EPHEMERAL-ROW') }).toEqual({ file, ephemeral: false });
    expect({ file, ignored: text.includes('IGNORED-ROW') }).toEqual({ file, ignored: false });
  }
});

test('user data is private and latest points at the complete snapshot', async () => {
  const root = join(work, 'user');
  const latest = await fs.readlink(join(root, 'latest'));
  expect(latest).toMatch(/^\d{14}$/);
  const dirStat = await fs.stat(join(root, latest));
  expect(dirStat.mode & 0o777).toBe(0o700);
  const fileStat = await fs.stat(join(root, latest, 'users'));
  expect(fileStat.mode & 0o777).toBe(0o600);
  expect(await fs.readFile(join(root, latest, 'users'), 'utf8')).toContain("(2,'bob','sekrit-bob')");
  expect((await fs.readdir(root)).filter((n) => n.endsWith('.partial'))).toEqual([]);
});

test('an unchanged second run writes no file and makes no commit', async () => {
  // The backup directories; state_dir (status.json) records every run by design.
  const backups = async () => new Map([...(await filesUnder(join(work, 'git'))), ...(await filesUnder(join(work, 'user')))]);
  const before = await backups();
  const commits = (await gitLog(join(work, 'git'))).length;
  await backup();
  const after = await backups();
  expect(after.size).toBeGreaterThan(5);
  expect([...after.entries()]).toEqual([...before.entries()]);
  expect((await gitLog(join(work, 'git'))).length).toBe(commits);
});

/**
 * Backs up a change to setting c, then takes its commit back (HEAD and the index, not the files), as if the run had
 * stopped between publishing its files and committing them. Returns the commit taken back.
 */
async function leaveUncommitted(value: string): Promise<LogEntry> {
  const repo = join(work, 'git');
  await db.conn.query('UPDATE settings SET value = ? WHERE name = ?', [value, 'c']);
  await backup();
  const [made] = await gitLog(repo);
  await runGit(repo, ['reset', '-q', 'HEAD~1']);
  return made;
}

test('files an interrupted run published but did not commit are committed by the next run, even one that changes nothing', async () => {
  const repo = join(work, 'git');
  const made = await leaveUncommitted('left-behind');
  const head = (await gitLog(repo))[0];
  await backup();
  const [committed] = await gitLog(repo);
  expect(committed.hash).not.toBe(head.hash);
  expect(committed.message).toContain('files left uncommitted by an earlier run');
  expect(committed.files).toEqual(made.files);
  expect(await runGit(repo, ['status', '--porcelain'])).toBe('');
});

test('a left-over file the operator marked assume-unchanged is committed all the same', async () => {
  const repo = join(work, 'git');
  const made = await leaveUncommitted('hidden');
  // git status no longer shows the files as changed; the commit must not rely on it.
  await runGit(repo, ['update-index', '--assume-unchanged', ...made.files]);
  expect(await runGit(repo, ['status', '--porcelain'])).toBe('');
  try {
    await backup();
    const [committed] = await gitLog(repo);
    expect(committed.message).toContain('files left uncommitted by an earlier run');
    expect(committed.files).toEqual(made.files);
  } finally {
    await runGit(repo, ['update-index', '--no-assume-unchanged', ...made.files]);
  }
});

test('a changed row makes one commit touching one table file, named in the message', async () => {
  const commits = await gitLog(join(work, 'git'));
  await db.conn.query("UPDATE settings SET value = 'changed' WHERE name = 'b'");
  await backup();
  const after = await gitLog(join(work, 'git'));
  expect(after.length).toBe(commits.length + 1);
  const tableFiles = after[0].files.filter((f) => !f.includes('.schema_backup/'));
  expect(tableFiles).toEqual([`${HOST}/settings`]);
  expect(after[0].message).toContain('settings');
  expect(after[0].message).toMatch(/rows: settings/);
  // Per row: how many rows were added, changed and removed, and which keys.
  expect(after[0].message).toContain('settings: 0 added, 1 changed, 0 removed: 2');
});

test('rows added and removed are counted by key; git log -p shows one row per line', async () => {
  await db.conn.query("INSERT INTO settings (id, name, value) VALUES (10, 'x', 'a),(b'), (11, 'y', 'z'); DELETE FROM settings WHERE name = 'a'");
  await backup();
  const [last] = await gitLog(join(work, 'git'));
  expect(last.message).toContain('settings: 2 added, 0 changed, 1 removed: 10, 11, 1');
  // The repository's diff driver (its config and the .gitattributes committed beside the host directory).
  const attributes = await fs.readFile(join(work, 'git', '.gitattributes'), 'utf8');
  expect(attributes).toMatch(/^\*\/\* diff=schema_backup$/m);
  const patch = (await runGit(join(work, 'git'), ['log', '-p', '-1', '--format=', '--', `${HOST}/settings`])).split('\n');
  expect(patch).toContain("+(10,'x','a)\\,(b'),");
  expect(patch).toContain("+(11,'y','z');");
  expect(patch.some((l) => /^-INSERT INTO `settings` VALUES \(1,'a','1'\),$/.test(l))).toBe(true);
  // Without the driver the same commit is one long changed line.
  const plain = await runGit(join(work, 'git'), ['log', '-p', '-1', '--no-textconv', '--format=', '--', `${HOST}/settings`]);
  expect(plain.split('\n').filter((l) => l.startsWith('+INSERT'))).toHaveLength(1);
});

test('a structure change is named as such; a dropped table disappears from the host directory', async () => {
  await db.conn.query('ALTER TABLE users ADD COLUMN email VARCHAR(80); DROP TABLE stray');
  await backup();
  const [last] = await gitLog(join(work, 'git'));
  expect(last.message).toMatch(/structure: users/);
  expect(last.message).toMatch(/removed: stray/);
  await expect(fs.stat(join(work, 'git', HOST, 'stray'))).rejects.toThrow();
  // The user snapshot changed too: a new snapshot, and latest moved to it.
  const snapshots = (await fs.readdir(join(work, 'user'))).filter((n) => /^\d{14}$/.test(n));
  expect(snapshots.length).toBe(2);
  expect(await fs.readlink(join(work, 'user', 'latest'))).toBe(snapshots.sort()[1]);
});

test('-e DIR receives structure and rows of the ephemeral tables, and only those', async () => {
  const dir = join(work, 'ephemeral');
  await backup(['-e', dir]);
  expect((await fs.readdir(dir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name)).toEqual(['jobs']);
  expect(await fs.readFile(join(dir, 'jobs'), 'utf8')).toContain("'EPHEMERAL-ROW-2'");
});

test('views and triggers come back from the files', async () => {
  const restored = await createTestDatabase('store_restore');
  try {
    const hostDir = join(work, 'git', HOST);
    for (const f of ['settings', 'users', 'jobs']) await mariadbClient([], { database: restored.name, inputFile: join(hostDir, f) });
    await mariadbClient([], { database: restored.name, inputFile: join(work, 'user', 'latest', 'users') });
    await mariadbClient([], { database: restored.name, inputFile: join(hostDir, '.schema_backup', 'views.sql') });
    const [names] = await restored.conn.query('SELECT n FROM user_names_upper ORDER BY n');
    expect(names).toEqual([{ n: 'ALICE' }, { n: 'BOB' }]);
    await restored.conn.query("INSERT INTO settings (name) VALUES ('via-trigger')");
    const [rows] = await restored.conn.query("SELECT value FROM settings WHERE name = 'via-trigger'");
    expect(rows).toEqual([{ value: 'default' }]);
  } finally {
    await restored.drop();
  }
});

test("commits are schema_backup's where git has no identity, the operator's where it has one; a diff driver changed by hand is set back", async () => {
  const repo = join(work, 'git');
  const author = async () => (await runGit(repo, ['log', '-1', '--format=%an <%ae>'])).trim();
  const commitWith = async (value: string) => {
    const before = (await gitLog(repo)).length;
    await db.conn.query('UPDATE settings SET value = ? WHERE name = ?', [value, 'c']);
    await backup();
    expect((await gitLog(repo)).length).toBe(before + 1);
  };
  // The tests keep global git config out (GIT_CONFIG_GLOBAL=/dev/null), and schema_backup made this repository.
  await commitWith('by-schema_backup');
  expect(await author()).toBe(`schema_backup <schema_backup@${HOST}>`);
  await runGit(repo, ['config', '--local', 'user.name', 'Site Operator']);
  await runGit(repo, ['config', '--local', 'user.email', 'operator@example.org']);
  await runGit(repo, ['config', '--local', 'diff.schema_backup.textconv', 'cat']);
  try {
    await commitWith('by-the-operator');
    expect(await author()).toBe('Site Operator <operator@example.org>');
    expect((await runGit(repo, ['config', '--local', '--get', 'diff.schema_backup.textconv'])).trim()).toBe(DIFF_TEXTCONV);
    // The commit left the real index at HEAD.
    expect(await runGit(repo, ['status', '--porcelain'])).toBe('');
  } finally {
    await runGit(repo, ['config', '--local', '--unset', 'user.name']);
    await runGit(repo, ['config', '--local', '--unset', 'user.email']);
  }
});

test('with a git older than 2.26 (no `git config --show-scope`), the same: schema_backup commits where git has no identity, the diff driver is set back', async () => {
  const repo = join(work, 'git');
  // A git that refuses --show-scope as git 2.25 does, and is the real git otherwise.
  const bin = join(work, 'old-git-bin');
  const fake = await fakeGit(bin, `*" --show-scope "*) echo "error: unknown option \\\`show-scope'" >&2; echo seen >> LOG; exit 129;;`);
  await runGit(repo, ['config', '--local', 'diff.schema_backup.textconv', 'cat']);
  const before = (await gitLog(repo)).length;
  await db.conn.query('UPDATE settings SET value = ? WHERE name = ?', ['by-an-old-git', 'c']);
  const r = await runCli(['--config', config, '--host-name', HOST, '--online'], { env: fake.env });
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.not.stringMatching(/ (error|warn) /) });
  // The fake was asked, and refused.
  expect((await fs.readFile(join(bin, 'refused'), 'utf8')).trim()).toBe('seen');
  expect((await gitLog(repo)).length).toBe(before + 1);
  expect((await runGit(repo, ['log', '-1', '--format=%an <%ae>'])).trim()).toBe(`schema_backup <schema_backup@${HOST}>`);
  expect((await runGit(repo, ['config', '--local', '--get', 'diff.schema_backup.textconv'])).trim()).toBe(DIFF_TEXTCONV);
  // Read apart, the repository's own entries still give the operator's identity, and a right driver is left alone.
  await runGit(repo, ['config', '--local', 'user.name', 'Old Git Operator']);
  await runGit(repo, ['config', '--local', 'user.email', 'old-git@example.org']);
  try {
    const configFile = join(repo, '.git', 'config');
    const configBefore = await fs.readFile(configFile, 'utf8');
    const mtimeBefore = (await fs.stat(configFile)).mtimeMs;
    await db.conn.query('UPDATE settings SET value = ? WHERE name = ?', ['by-an-old-git-operator', 'c']);
    const again = await runCli(['--config', config, '--host-name', HOST, '--online'], { env: fake.env });
    expect(again.code).toBe(0);
    expect((await runGit(repo, ['log', '-1', '--format=%an <%ae>'])).trim()).toBe('Old Git Operator <old-git@example.org>');
    expect(await fs.readFile(configFile, 'utf8')).toBe(configBefore);
    expect((await fs.stat(configFile)).mtimeMs).toBe(mtimeBefore);
  } finally {
    await runGit(repo, ['config', '--local', '--unset', 'user.name']);
    await runGit(repo, ['config', '--local', '--unset', 'user.email']);
  }
});
