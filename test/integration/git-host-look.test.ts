/**
 * The end of a run asks git whether the host files are HEAD's (src/git/repo.ts hostDirUnchanged): the run starts
 * that look while it syncs the user-data snapshot (src/backup/publish.ts), and commitHostDir takes its answer
 * instead of asking again. Real repositories in temporary directories.
 */
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commitHostDir, hostDirUnchanged, type Repository } from '../../src/git/repo';
import { countingGit, gitEnv, gitLog, initRepo } from '../helpers/git';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

beforeAll(() => {
  gitEnv();
});
afterAll(cleanupTempDirs);

/** A repository whose host directory `host` holds one committed file, and a temporary directory under it. */
async function committedHost(): Promise<{ repo: Repository; host: string; paths: { alsoCommit: string[]; exclude: string[] } }> {
  const top = realpathSync(tempDir('sbt-hostlook-'));
  const g = await initRepo(top);
  const host = join(top, 'host');
  mkdirSync(join(host, '.tmp'), { recursive: true });
  writeFileSync(join(host, 't'), 'CREATE TABLE t (id INT);\n');
  writeFileSync(join(top, '.gitattributes'), '* text\n');
  await g.add(['host/t', '.gitattributes']);
  await g.commit('first');
  return { repo: { top, indexLock: join(top, '.git', 'index.lock') }, host, paths: { alsoCommit: [join(top, '.gitattributes')], exclude: [join(host, '.tmp')] } };
}

const message = () => 'host: backup\n';

test('the look says unchanged for HEAD\'s files (a file in the excluded directory aside), and changed for a changed, a new or a hidden file', async () => {
  const { repo, host, paths } = await committedHost();
  writeFileSync(join(host, '.tmp', 'partial'), 'x');
  expect(await hostDirUnchanged(repo, host, paths)).toBe(true);
  writeFileSync(join(host, 't'), 'CREATE TABLE t (id BIGINT);\n');
  expect(await hostDirUnchanged(repo, host, paths)).toBe(false);
  writeFileSync(join(host, 't'), 'CREATE TABLE t (id INT);\n');
  writeFileSync(join(host, 'u'), 'CREATE TABLE u (id INT);\n');
  expect(await hostDirUnchanged(repo, host, paths)).toBe(false);
});

test('commitHostDir takes a look started earlier: no git process of its own when it says unchanged, and a commit when it does not', async () => {
  const { repo, host, paths } = await committedHost();
  const skipped = await countingGit(() => commitHostDir(repo, host, false, message, null, { ...paths, unchanged: hostDirUnchanged(repo, host, paths) }));
  expect(skipped.result).toBeNull();
  // The two processes of the look itself, none after it.
  expect(skipped.commands).toEqual(['ls-files', 'status']);
  writeFileSync(join(host, 'u'), 'CREATE TABLE u (id INT);\n');
  const committed = await countingGit(() => commitHostDir(repo, host, false, message, null, { ...paths, unchanged: Promise.resolve(false) }));
  expect(committed.result).toMatch(/^[0-9a-f]{40}$/);
  expect(committed.commands).not.toContain('ls-files');
  expect((await gitLog(repo.top)).length).toBe(2);
});
