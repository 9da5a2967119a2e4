/**
 * A commit that fails (a pre-commit hook that exits 1, commit signing without
 * a usable key) changes nothing: the work tree, the index, HEAD and `latest`
 * stay exactly as before the run, on a repository's first commit too
 * (`.gitattributes` included). Hooks run, and their output is in the error.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT } from '../../src/errors';
import { UNKNOWN_COMMIT } from '../../src/git/repo';
import { run } from '../../src/proc/run';
import { createSite, hostDirProblems, incompleteSnapshots, listFiles, sha256, STACK_TRACE, type Site } from '../helpers/faults';
import { fakeGit, gitEnv, gitLog, initRepo } from '../helpers/git';
import { cleanupTempDirs } from '../helpers/tmp';

jest.setTimeout(120_000);

const git = async (dir: string, args: string[]) => (await run('git', ['-C', dir, ...args], { env: gitEnv() })).stdout;

/** Everything git and the operator see: the state of the backup, plus the index and the whole work tree. */
async function fullState(site: Site) {
  const repo = existsSync(join(site.csv2Dir, '.git'));
  const workTree: Record<string, string> = {};
  for (const f of listFiles(site.csv2Dir)) if (!f.includes('.schema_backup/tmp/')) workTree[f] = sha256(readFileSync(join(site.csv2Dir, f)));
  return {
    ...(await site.state()),
    workTree,
    index: repo ? await git(site.csv2Dir, ['ls-files', '--stage']) : null,
    status: repo ? await git(site.csv2Dir, ['status', '--porcelain', '--untracked-files=all']) : null,
  };
}

function hook(site: Site, body: string): void {
  const path = join(site.csv2Dir, '.git', 'hooks', 'pre-commit');
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
}

async function setupTables(site: Site): Promise<void> {
  await site.db.conn.query(
    'CREATE TABLE g (id INT PRIMARY KEY, v TEXT); INSERT INTO g VALUES (1, "a");' +
      'CREATE TABLE old (id INT PRIMARY KEY); CREATE TABLE l (id INT AUTO_INCREMENT PRIMARY KEY, v TEXT); INSERT INTO l (v) VALUES ("x")',
  );
}

afterAll(() => cleanupTempDirs());

describe('on a repository with history', () => {
  let site: Site;
  beforeAll(async () => {
    site = await createSite({ label: 'commit_fail', global: ['g', 'old'], local: ['l'] });
    await setupTables(site);
    expect((await site.run()).code).toBe(0);
    // The operator's own work in the repository: staged, unstaged and untracked; none of it may move.
    writeFileSync(join(site.csv2Dir, 'NOTES'), 'notes\n');
    await git(site.csv2Dir, ['add', 'NOTES']);
    writeFileSync(join(site.csv2Dir, 'NOTES'), 'notes, edited\n');
    writeFileSync(join(site.csv2Dir, 'scratch'), 'untracked\n');
  });
  afterAll(async () => {
    await site.cleanup();
  });

  async function expectCommitRefused(inject: () => Promise<void> | void, fix: () => Promise<void> | void, message: RegExp): Promise<void> {
    // A changed row, a new table and a dropped one: files replaced, added and removed.
    await site.db.conn.query(`UPDATE g SET v = '${Date.now()}'; INSERT INTO l (v) VALUES ('y'); DROP TABLE IF EXISTS old; CREATE TABLE IF NOT EXISTS added (id INT PRIMARY KEY)`);
    await inject();
    const before = await fullState(site);
    const r = await site.run();
    const context = `exit ${r.code}\n${r.stderr}`;
    expect({ context, code: r.code }).toEqual({ context, code: EXIT.store });
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(await fullState(site)).toEqual(before);
    expect(incompleteSnapshots(site.userDir)).toEqual([]);
    expect(hostDirProblems(site.hostDir)).toEqual([]);
    expect(await site.consumerRunning()).toBe(true);
    await fix();
    const again = await site.run();
    expect({ code: again.code, stderr: again.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    const after = await fullState(site);
    expect(after.head).not.toBe(before.head);
    expect(after.latest).not.toBe(before.latest);
    // Only the backup moved: the operator's staged and untracked files are as they were.
    expect(after.status).toBe(before.status);
    await site.db.conn.query('CREATE TABLE IF NOT EXISTS old (id INT PRIMARY KEY); DROP TABLE IF EXISTS added');
    expect((await site.run()).code).toBe(0);
  }

  test('a pre-commit hook that exits 1: exit 5 with its output, nothing changed', async () => {
    await expectCommitRefused(
      () => hook(site, 'echo "policy: no backups on Tuesdays" >&2\nexit 1'),
      () => hook(site, 'exit 0'),
      /git commit .* failed[\s\S]*policy: no backups on Tuesdays/,
    );
  });

  test('commit.gpgsign=true without a usable key: exit 5, nothing changed', async () => {
    await expectCommitRefused(
      async () => {
        await git(site.csv2Dir, ['config', 'commit.gpgsign', 'true']);
        await git(site.csv2Dir, ['config', 'user.signingkey', '0xDEADBEEFDEADBEEF']);
      },
      async () => {
        await git(site.csv2Dir, ['config', '--unset', 'commit.gpgsign']);
      },
      /gpg|sign/i,
    );
  });

  const gitWith = (name: string, fault: string) => fakeGit(join(site.root, name), fault, site.env.PATH ?? process.env.PATH ?? '');

  /** A run whose commit git made, whatever it said after: exit 0 with a warning, the commit and what it records stand. */
  async function expectCommitStands(env: NodeJS.ProcessEnv, warning: RegExp): Promise<{ stdout: string; head: string | null }> {
    await site.db.conn.query(`UPDATE g SET v = 'stands ${Date.now()}'; INSERT INTO l (v) VALUES ('z')`);
    const before = await fullState(site);
    const r = await site.run([], { env });
    const context = `exit ${r.code}\n${r.stderr}`;
    expect({ context, code: r.code }).toEqual({ context, code: 0 });
    expect(r.stderr).toMatch(warning);
    expect(r.stdout).toMatch(/warnings: [1-9]/);
    const after = await fullState(site);
    // The commit stands, and what it records stays published: the host files equal HEAD, `latest` moved.
    expect(after.head).not.toBe(before.head);
    expect(after.latest).not.toBe(before.latest);
    expect(after.status).toBe(before.status);
    expect(await git(site.csv2Dir, ['rev-parse', 'HEAD^'])).toBe(`${before.head}\n`);
    expect(await git(site.csv2Dir, ['status', '--porcelain', '--', 'faulthost'])).toBe('');
    expect(incompleteSnapshots(site.userDir)).toEqual([]);
    expect(hostDirProblems(site.hostDir)).toEqual([]);
    expect(await site.consumerRunning()).toBe(true);
    // The next run finds nothing left to commit.
    const again = await site.run();
    expect(again.code).toBe(0);
    expect((await fullState(site)).head).toBe(after.head);
    return { stdout: r.stdout, head: after.head };
  }

  test('git makes the commit but cannot then tell its id: the run succeeds and keeps what the commit records', async () => {
    // `git rev-parse HEAD` (the new commit's id) fails, as a process that cannot start would.
    const fake = await gitWith('no-rev-parse-bin', '*" rev-parse HEAD "*) echo refused >> LOG; echo "fatal: cannot read HEAD" >&2; exit 128;;');
    const { stdout } = await expectCommitStands(fake.env, /warn .*committed, but git could not tell the commit's id/);
    // Asked, and asked again, before the run gave up on the id.
    expect(fake.refused().length).toBeGreaterThanOrEqual(2);
    expect(stdout).toContain(`commit: ${UNKNOWN_COMMIT}`);
  });

  test('`git commit` fails after it made the commit (killed once HEAD moved): the commit stands, the run succeeds', async () => {
    const fake = await gitWith('commit-then-fail-bin', '*" commit "*) REAL "$@"; echo failed >> LOG; echo "error: killed after the commit" >&2; exit 1;;');
    const { stdout, head } = await expectCommitStands(fake.env, /warn .*git reported a failure after making the commit; the commit stands/);
    expect(fake.refused()).toEqual(['failed']);
    expect(stdout).toContain(`commit: ${head}`);
  });

  test('`git commit` fails while the operator commits on the same HEAD: the run fails and takes its files back, the operator\'s commit stays', async () => {
    // Our commit (it carries the temporary index) becomes the operator's own, from the real index, and then fails.
    const fake = await gitWith(
      'operator-commit-bin',
      '*" commit "*) [ -n "$GIT_INDEX_FILE" ] || exec REAL "$@"; env -u GIT_INDEX_FILE REAL -C "$2" -c user.name=Operator -c user.email=operator@example.org commit --allow-empty -q -m "the operator\'s own commit"; echo raced >> LOG; echo "fatal: cannot lock ref \'HEAD\'" >&2; exit 128;;',
    );
    await site.db.conn.query(`UPDATE g SET v = 'raced ${Date.now()}'`);
    const before = await fullState(site);
    const r = await site.run([], { env: fake.env });
    const context = `exit ${r.code}\n${r.stderr}`;
    expect({ context, code: r.code }).toEqual({ context, code: EXIT.store });
    expect(r.stderr).toMatch(/cannot lock ref/);
    expect(fake.refused()).toEqual(['raced']);
    // HEAD is the operator's commit on top of the old one; the backup's files and `latest` are as before the run.
    expect(await git(site.csv2Dir, ['log', '-1', '--format=%s'])).toBe("the operator's own commit\n");
    expect(await git(site.csv2Dir, ['rev-parse', 'HEAD^'])).toBe(`${before.head}\n`);
    const after = await fullState(site);
    expect({ ...after, head: before.head, index: before.index, status: before.status }).toEqual(before);
    expect(incompleteSnapshots(site.userDir)).toEqual([]);
    expect(await site.consumerRunning()).toBe(true);
    // The next run commits the backup on top of the operator's commit.
    expect((await site.run()).code).toBe(0);
    expect(await git(site.csv2Dir, ['rev-parse', 'HEAD^'])).toBe(`${after.head}\n`);
  });

  test('git cannot tell HEAD before the commit: exit 5, nothing changed (never a commit built as if there were no HEAD)', async () => {
    // Taken for "no commit yet", the commit would have held the backup's paths alone: every other file deleted.
    const fake = await gitWith('no-head-bin', '*" rev-parse --verify --quiet HEAD "*) echo refused >> LOG; echo "fatal: unable to read HEAD" >&2; exit 128;;');
    await site.db.conn.query(`UPDATE g SET v = 'no head ${Date.now()}'`);
    const before = await fullState(site);
    const r = await site.run([], { env: fake.env });
    const context = `exit ${r.code}\n${r.stderr}`;
    expect({ context, code: r.code }).toEqual({ context, code: EXIT.store });
    expect(r.stderr).toMatch(/unable to read HEAD[\s\S]*Nothing was committed/);
    expect(fake.refused()).toEqual(['refused']);
    expect(await fullState(site)).toEqual(before);
    expect(await site.consumerRunning()).toBe(true);
  });

  test('hooks run on a successful commit too (never skipped behind the operator\'s back)', async () => {
    const marker = join(site.root, 'hook-ran');
    hook(site, `echo ran >> ${marker}`);
    await site.db.conn.query(`UPDATE g SET v = 'hooked ${Date.now()}'`);
    const r = await site.run();
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(readFileSync(marker, 'utf8')).toBe('ran\n');
    hook(site, 'exit 0');
  });
});

test('the first commit of a new repository fails: no host files, no .gitattributes, no index, no latest', async () => {
  const site = await createSite({ label: 'commit_fail_first', global: ['g', 'old'], local: ['l'] });
  try {
    await setupTables(site);
    mkdirSync(site.csv2Dir, { recursive: true });
    await initRepo(site.csv2Dir);
    hook(site, 'echo "first commit refused" >&2\nexit 1');
    const before = await fullState(site);
    expect(before.workTree).toEqual({});
    const r = await site.run();
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: EXIT.store, stderr: expect.stringMatching(/first commit refused/) });
    expect(await fullState(site)).toEqual(before);
    expect(existsSync(join(site.csv2Dir, '.gitattributes'))).toBe(false);
    hook(site, 'exit 0');
    expect((await site.run()).code).toBe(0);
    const log = await gitLog(site.csv2Dir);
    expect(log).toHaveLength(1);
    expect(log[0]?.files).toContain('.gitattributes');
  } finally {
    await site.cleanup();
  }
});
