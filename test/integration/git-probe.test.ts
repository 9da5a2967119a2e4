/**
 * What the run's first look at csv2_backup_dir's repository reads (src/git/repo.ts probeRepository): where it
 * is, its branch and its config, all at once before the locks, so that after the locks nothing is left to ask git
 * unless the diff driver must be set. Real repositories in temporary directories.
 */
import { realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIFF_DRIVER, DIFF_TEXTCONV, checkRepositoryReady, ensureDiffDriver, probeRepository, type ProbedRepository } from '../../src/git/repo';
import { StoreError } from '../../src/errors';
import { countingGit, gitEnv, initRepo } from '../helpers/git';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

beforeAll(() => {
  gitEnv();
});
afterAll(cleanupTempDirs);

function entries(repo: ProbedRepository): { scope: string; key: string; value: string | null }[] {
  if (!Array.isArray(repo.config)) throw new Error(`config not read: ${String(repo.config.error)}`);
  return repo.config;
}

test('a directory outside any work tree: null', async () => {
  expect(await probeRepository(join(tempDir('sbt-probe-'), 'not-yet'))).toBeNull();
});

test('a new repository (no commit yet): its top, its index lock, the branch HEAD names and its own config', async () => {
  const dir = realpathSync(tempDir('sbt-probe-'));
  await initRepo(dir);
  // Asked for a directory that does not exist yet, below the top: git is asked from the nearest existing one.
  const repo = await probeRepository(join(dir, 'host', 'deeper'));
  expect(repo).not.toBeNull();
  expect(repo?.top).toBe(dir);
  expect(repo?.indexLock).toBe(join(dir, '.git', 'index.lock'));
  expect(repo?.branch).toBe('refs/heads/main');
  expect(entries(repo as ProbedRepository)).toEqual(expect.arrayContaining([{ scope: 'local', key: 'user.email', value: 'tests@schema-backup.invalid' }]));
  expect(() => checkRepositoryReady(repo as ProbedRepository)).not.toThrow();
});

test('on a branch with commits (every run after the first): two git processes, where it is and HEAD in one, the config in the other', async () => {
  const dir = realpathSync(tempDir('sbt-probe-'));
  const g = await initRepo(dir);
  writeFileSync(join(dir, 'a'), 'a\n');
  await g.add('a');
  await g.commit('first');
  const { result: repo, commands } = await countingGit(() => probeRepository(dir));
  expect(commands).toEqual(['config', 'rev-parse']);
  expect(repo).toEqual(expect.objectContaining({ top: dir, indexLock: join(dir, '.git', 'index.lock'), branch: 'refs/heads/main' }));
});

test('a detached HEAD: no branch, and the run is refused naming it', async () => {
  const dir = tempDir('sbt-probe-');
  const g = await initRepo(dir);
  writeFileSync(join(dir, 'a'), 'a\n');
  await g.add('a');
  await g.commit('first');
  await g.raw(['checkout', '-q', '--detach']);
  const repo = (await probeRepository(dir)) as ProbedRepository;
  expect(repo.branch).toBe('');
  expect(() => checkRepositoryReady(repo)).toThrow(/detached HEAD.*checkout main/);
});

test('a leftover index.lock is judged when asked (under the run\'s locks), not when probed', async () => {
  const dir = tempDir('sbt-probe-');
  await initRepo(dir);
  const repo = (await probeRepository(dir)) as ProbedRepository;
  expect(() => checkRepositoryReady(repo)).not.toThrow();
  writeFileSync(repo.indexLock, '');
  expect(() => checkRepositoryReady(repo)).toThrow(StoreError);
  expect(() => checkRepositoryReady(repo)).toThrow(/index\.lock exists/);
});

test('the diff driver is set once; a probe that reads it set needs no git process to go on', async () => {
  const dir = tempDir('sbt-probe-');
  await initRepo(dir);
  const first = (await probeRepository(dir)) as ProbedRepository;
  expect(entries(first).some((e) => e.key === `diff.${DIFF_DRIVER}.textconv`)).toBe(false);
  expect(await ensureDiffDriver(first)).toEqual({ identity: true });

  const second = (await probeRepository(dir)) as ProbedRepository;
  expect(entries(second)).toEqual(expect.arrayContaining([{ scope: 'local', key: `diff.${DIFF_DRIVER}.textconv`, value: DIFF_TEXTCONV }]));
  // Pointed at a directory that does not exist, any git process would fail: none is started.
  const gone = { ...second, top: join(dir, 'no-such-directory') };
  expect(await ensureDiffDriver(gone)).toEqual({ identity: true });
  // Without the driver in what was read, the same call must ask git, and fails there.
  await expect(ensureDiffDriver({ ...gone, config: [] })).rejects.toThrow(/git config in .*no-such-directory failed/);
});

test('a repository whose config git cannot parse is no repository to the run; a config read that failed is reported as git config failing', async () => {
  const dir = tempDir('sbt-probe-');
  await initRepo(dir);
  writeFileSync(join(dir, '.git', 'config'), '[core\n\trepositoryformatversion = 0\n');
  expect(await probeRepository(dir)).toBeNull();

  const good = tempDir('sbt-probe-');
  await initRepo(good);
  const repo = (await probeRepository(good)) as ProbedRepository;
  await expect(ensureDiffDriver({ ...repo, config: { error: new Error('fatal: bad config line 7') } })).rejects.toThrow(/git config in .* failed: fatal: bad config line 7/);
});
