/**
 * Storage and git faults: a full disk (tmpfs) during the host files and during
 * the user snapshot, read-only directories (read-only bind mounts: root ignores
 * permission bits), a file where a directory belongs, a dangling `latest`, a
 * locked repository, a detached HEAD, a repository that is not one any more.
 * Each fault: a named non-zero exit, the previous backup untouched, nothing
 * half-written looking complete, the consumer running, and the next run after
 * the fix succeeds and saves the change.
 */
import { existsSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { EXIT } from '../../src/errors';
import { testServer } from '../helpers/db';
import { gitEnv } from '../helpers/git';
import {
  bindReadOnly,
  captureState,
  createSite,
  HOST,
  hostDirProblems,
  incompleteSnapshots,
  mountTmpfs,
  remount,
  runCli,
  STACK_TRACE,
  unmount,
  type CliResult,
  type Site,
} from '../helpers/faults';
import { run } from '../../src/proc/run';
import { cleanupTempDirs } from '../helpers/tmp';

jest.setTimeout(120_000);

const git = (dir: string, args: string[]) => run('git', ['-C', dir, ...args], { env: gitEnv() });

/** Counts faults injected in this file (reported). */
let faults = 0;

async function changeData(site: Site): Promise<void> {
  await site.db.conn.query("UPDATE g SET v = CONCAT(v, '+'); INSERT INTO l (v) VALUES ('new')");
}

function expectNamedFailure(r: CliResult, code: number, message: RegExp): void {
  const context = `exit ${r.code}\n${r.stderr}`;
  expect({ context, code: r.code }).toEqual({ context, code });
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(STACK_TRACE);
}

/**
 * The common shape of a fault: change the data, inject, run (must fail with
 * `code` and `message`), check that nothing moved, fix, run again (must
 * succeed and record the change).
 */
async function fault(
  site: Site,
  spec: { inject: () => Promise<void> | void; fix: () => Promise<void> | void; code: number; message: RegExp; paths?: { csv2Dir: string; hostDir: string; userDir: string } },
): Promise<void> {
  faults++;
  await changeData(site);
  const where = spec.paths ?? site;
  await spec.inject();
  // Read after the injection: what the fault itself changed (a moved directory, a replaced link) is not the run's doing.
  const before = await captureState(where);
  try {
    const r = await site.run();
    expectNamedFailure(r, spec.code, spec.message);
    expect(await captureState(where)).toEqual(before);
    expect(incompleteSnapshots(where.userDir)).toEqual([]);
    expect(hostDirProblems(where.hostDir)).toEqual([]);
    expect(await site.consumerRunning()).toBe(true);
  } finally {
    await spec.fix();
  }
  const again = await site.run();
  expect({ code: again.code, stderr: again.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
  const after = await site.state();
  expect(after.head).not.toBe(before.head);
  expect(after.latest).not.toBe(before.latest);
  expect(incompleteSnapshots(site.userDir)).toEqual([]);
  expect(hostDirProblems(site.hostDir)).toEqual([]);
  expect(await site.consumerRunning()).toBe(true);
}

async function seed(site: Site): Promise<void> {
  await site.db.conn.query(
    'CREATE TABLE g (id INT PRIMARY KEY, v TEXT) ENGINE=InnoDB; CREATE TABLE l (id INT AUTO_INCREMENT PRIMARY KEY, v TEXT) ENGINE=InnoDB;' +
      "INSERT INTO g VALUES (1, 'one'), (2, 'two'); INSERT INTO l (v) VALUES ('private')",
  );
  const first = await site.run();
  expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
}

afterAll(() => {
  cleanupTempDirs();
  // eslint-disable-next-line no-console
  console.log(`storage faults injected: ${faults}`);
});

describe('directories and git', () => {
  let site: Site;
  beforeAll(async () => {
    site = await createSite({ label: 'storage', global: ['g'], local: ['l'] });
    await seed(site);
  });
  afterAll(async () => {
    await site.cleanup();
  });

  test('git index.lock present: exit 5 before anything is published', async () => {
    const lock = join(site.csv2Dir, '.git', 'index.lock');
    await fault(site, {
      inject: () => writeFileSync(lock, ''),
      fix: () => rmSync(lock, { force: true }),
      code: EXIT.store,
      message: /index\.lock exists/,
    });
  });

  test('a run refused by another run says so (exit 7) while git\'s index.lock is there too: the repository is judged under the locks', async () => {
    // Run A holds the backup directories' locks, waiting to read g (the repository was fine when it looked).
    const locker = await createConnection({ ...testServer(), database: site.db.name });
    await locker.query('LOCK TABLES g WRITE');
    const a = site.start(['--log-level', 'debug']);
    const lock = join(site.csv2Dir, '.git', 'index.lock');
    let b: CliResult | null = null;
    try {
      await a.waitForStderr(/phase=dumping/);
      writeFileSync(lock, '');
      // Run B: the same directories under another state_dir (another config file), so only their locks stand between.
      const other = join(site.root, 'other.conf');
      writeFileSync(other, readFileSync(site.configFile, 'utf8').replace(site.stateDir, join(site.root, 'state-b')));
      b = await runCli(['--config', other, '--host-name', HOST], { env: site.env });
    } catch (err) {
      a.child.kill('SIGKILL');
      throw err;
    } finally {
      rmSync(lock, { force: true });
      await locker.query('UNLOCK TABLES');
      await locker.end();
    }
    // Run A goes on once the table is free, whatever B did.
    expect((await a.result).code).toBe(0);
    expect({ code: b.code, busy: /another schema_backup run .* is active/.test(b.stderr), lock: /index\.lock/.test(b.stderr) }).toEqual({ code: EXIT.busy, busy: true, lock: false });
  });

  test('detached HEAD: exit 5, no commit lands outside a branch', async () => {
    await fault(site, {
      inject: async () => {
        await git(site.csv2Dir, ['checkout', '-q', '--detach']);
      },
      fix: async () => {
        await git(site.csv2Dir, ['checkout', '-q', 'main']);
      },
      code: EXIT.store,
      message: /detached HEAD/,
    });
  });

  test('csv2_backup_dir is not a git repository any more (.git is garbage): exit 5', async () => {
    const dotGit = join(site.csv2Dir, '.git');
    const aside = join(site.root, 'git-aside');
    // State is read from the real repository, moved aside while the fault lasts.
    let before: Awaited<ReturnType<typeof captureState>> | null = null;
    faults++;
    await changeData(site);
    before = await site.state();
    renameSync(dotGit, aside);
    writeFileSync(dotGit, 'not a repository\n');
    try {
      const r = await site.run();
      expectNamedFailure(r, EXIT.store, /git .*failed|not a git repository|invalid gitfile/);
      expect(readFileSync(dotGit, 'utf8')).toBe('not a repository\n');
      rmSync(dotGit);
      renameSync(aside, dotGit);
      expect(await site.state()).toEqual(before);
      expect(await site.consumerRunning()).toBe(true);
    } finally {
      if (existsSync(aside)) {
        rmSync(dotGit, { force: true });
        renameSync(aside, dotGit);
      }
    }
    const again = await site.run();
    expect(again.code).toBe(0);
    expect((await site.state()).head).not.toBe(before.head);
  });

  test('csv2_backup_dir read-only (read-only bind mount): exit 5', async () => {
    await fault(site, {
      inject: () => bindReadOnly(site.csv2Dir),
      fix: () => unmount(site.csv2Dir),
      code: EXIT.store,
      message: /read-only file system/i,
    });
  });

  test('user_data_backup_dir read-only (read-only bind mount): exit 5, consumer started again', async () => {
    await fault(site, {
      inject: () => bindReadOnly(site.userDir),
      fix: () => unmount(site.userDir),
      code: EXIT.store,
      message: /read-only file system/i,
    });
  });

  test('csv2_backup_dir is a file: exit 5', async () => {
    const aside = join(site.root, 'csv2-aside');
    await fault(site, {
      paths: { csv2Dir: aside, hostDir: join(aside, 'faulthost'), userDir: site.userDir },
      inject: () => {
        renameSync(site.csv2Dir, aside);
        writeFileSync(site.csv2Dir, 'a file\n');
      },
      fix: () => {
        expect(readFileSync(site.csv2Dir, 'utf8')).toBe('a file\n');
        rmSync(site.csv2Dir);
        renameSync(aside, site.csv2Dir);
      },
      code: EXIT.store,
      message: /csv2_backup_dir|not a directory|EEXIST/,
    });
  });

  test('user_data_backup_dir is a file: exit 5', async () => {
    const aside = join(site.root, 'user-aside');
    await fault(site, {
      paths: { csv2Dir: site.csv2Dir, hostDir: site.hostDir, userDir: aside },
      inject: () => {
        renameSync(site.userDir, aside);
        writeFileSync(site.userDir, 'a file\n');
      },
      fix: () => {
        expect(readFileSync(site.userDir, 'utf8')).toBe('a file\n');
        rmSync(site.userDir);
        renameSync(aside, site.userDir);
      },
      code: EXIT.store,
      message: /not a directory/,
    });
  });

  test('`latest` is a regular file: exit 5, left alone', async () => {
    const latest = join(site.userDir, 'latest');
    let target = '';
    await fault(site, {
      inject: () => {
        target = readlinkSync(latest);
        rmSync(latest);
        writeFileSync(latest, 'not a link\n');
      },
      fix: () => {
        expect(readFileSync(latest, 'utf8')).toBe('not a link\n');
        rmSync(latest);
        symlinkSync(target, latest);
      },
      code: EXIT.store,
      message: /latest exists and is not a symbolic link/,
    });
  });

  test('a dangling `latest` is repaired: the run succeeds and latest names the new complete snapshot', async () => {
    faults++;
    await changeData(site);
    const latest = join(site.userDir, 'latest');
    const before = await site.state();
    rmSync(latest);
    symlinkSync('20000101000000', latest);
    const r = await site.run();
    expect(r.code).toBe(0);
    const after = await site.state();
    expect(after.latest).not.toBe('20000101000000');
    expect(Object.keys(after.snapshots)).toContain(after.latest);
    // Every earlier snapshot is still there, byte for byte.
    for (const [name, files] of Object.entries(before.snapshots)) expect(after.snapshots[name]).toEqual(files);
    expect(incompleteSnapshots(site.userDir)).toEqual([]);
  });

  test('missing directories are created (first-run behaviour): user data 0700, a new repository', async () => {
    faults++;
    const fresh = await createSite({ label: 'storage_missing', global: ['g'], local: ['l'], consumer: false });
    try {
      await fresh.db.conn.query("CREATE TABLE g (id INT PRIMARY KEY); INSERT INTO g VALUES (1); CREATE TABLE l (id INT PRIMARY KEY); INSERT INTO l VALUES (1)");
      expect(existsSync(fresh.csv2Dir) || existsSync(fresh.userDir)).toBe(false);
      const r = await fresh.run();
      expect(r.code).toBe(0);
      expect(statSync(fresh.userDir).mode & 0o777).toBe(0o700);
      const s = await fresh.state();
      expect(s.head).not.toBeNull();
      expect(s.latest).not.toBeNull();
    } finally {
      await fresh.cleanup();
    }
  });
});

describe('a full disk (tmpfs of 2 MiB)', () => {
  let site: Site;
  beforeAll(async () => {
    site = await createSite({ label: 'diskfull', global: ['g'], local: ['l'] });
    await mountTmpfs(site.csv2Dir, '2m');
    mkdirSync(site.userDir);
    await mountTmpfs(site.userDir, '2m');
    await remount(site.userDir, 'mode=0700');
    await seed(site);
  });
  afterAll(async () => {
    await unmount(site.csv2Dir);
    await unmount(site.userDir);
    await site.cleanup();
  });

  test('while writing the host files: exit 5, previous files and HEAD kept; fine again once there is room', async () => {
    await site.db.conn.query('INSERT INTO g SELECT seq + 10, REPEAT(MD5(seq), 32) FROM seq_1_to_4000');
    await fault(site, {
      inject: () => undefined,
      fix: () => remount(site.csv2Dir, 'size=64m'),
      code: EXIT.store,
      message: /no space left on device/i,
    });
  });

  test('while writing the user snapshot: exit 5, latest and earlier snapshots kept, no partial left', async () => {
    await site.db.conn.query('INSERT INTO l (v) SELECT REPEAT(MD5(seq), 32) FROM seq_1_to_4000');
    await fault(site, {
      inject: () => undefined,
      fix: () => remount(site.userDir, 'size=64m'),
      code: EXIT.store,
      message: /no space left on device/i,
    });
  });
});
