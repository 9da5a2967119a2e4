/**
 * Secrets and privacy. A dedicated MariaDB user with a distinctive password:
 * while runs are in flight, no process of schema_backup's tree shows it in
 * its command line or environment, and no log line (debug, JSON), output,
 * file, manifest, commit or git-tracked file contains it. User data is 0700 /
 * 0600 whatever the umask; a readable user_data_backup_dir is reported; user
 * data inside the git work tree is refused unless git ignores it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { EXIT } from '../../src/errors';
import { run } from '../../src/proc/run';
import { credentialsYaml, testServer } from '../helpers/db';
import { createSite, listFiles, scanProcessTree, STACK_TRACE, type Site } from '../helpers/faults';
import { gitEnv } from '../helpers/git';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

jest.setTimeout(120_000);

const NEEDLE = `S3cr3t-needle-${randomBytes(6).toString('hex')}`;
const USER = `sbt_needle_${randomBytes(3).toString('hex')}`;

let site: Site;
let credentials: string;

async function admin<T>(fn: (c: Awaited<ReturnType<typeof createConnection>>) => Promise<T>): Promise<T> {
  const c = await createConnection(testServer());
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  site = await createSite({ label: 'secrets', global: ['g'], local: ['l'], ephemeral: ['e'] });
  await site.db.conn.query(
    'CREATE TABLE g (id INT PRIMARY KEY, v TEXT); INSERT INTO g VALUES (1, "a");' +
      'CREATE TABLE l (id INT AUTO_INCREMENT PRIMARY KEY, v TEXT); INSERT INTO l (v) VALUES ("x");' +
      'CREATE TABLE e (id INT PRIMARY KEY); INSERT INTO e VALUES (1)',
  );
  await admin(async (c) => {
    await c.query(`CREATE USER '${USER}'@'%' IDENTIFIED BY '${NEEDLE}'`);
    await c.query(`GRANT ALL PRIVILEGES ON \`${site.db.name}\`.* TO '${USER}'@'%'`);
  });
  credentials = join(tempDir('sbf-secret-cred-'), 'database.yml');
  writeFileSync(credentials, credentialsYaml({ ...testServer(), user: USER, password: NEEDLE }, site.db.name), { mode: 0o600 });
  site.writeConfig({ db_config: credentials });
});

afterAll(async () => {
  await admin((c) => c.query(`DROP USER IF EXISTS '${USER}'@'%'`));
  await site.cleanup();
  cleanupTempDirs();
});

test('the password appears in no process of the run, no log line, no output, no file, no commit', async () => {
  const logJson = join(site.root, 'log.json');
  const ephemeral = join(site.root, 'ephemeral');
  const outputs: string[] = [];
  const commands = new Set<string>();
  let rounds = 0;
  for (let i = 0; i < 3; i++) {
    await site.db.conn.query(`UPDATE g SET v = 'run ${i}'; INSERT INTO l (v) VALUES ('r${i}')`);
    const running = site.start(['--log-level', 'debug', '--log-json', logJson, '-e', ephemeral]);
    const scan = scanProcessTree(running.pid, NEEDLE);
    const r = await running.result;
    const seen = await scan.stop();
    expect(seen.hits).toEqual([]);
    seen.commands.forEach((c) => commands.add(c));
    rounds += seen.rounds;
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    outputs.push(r.stdout, r.stderr);
  }
  // The scan saw the children it is meant to watch (it is not scanning an empty tree).
  const all = [...commands].join('\n');
  expect(all).toMatch(/systemctl/);
  expect(all).toMatch(/\bgit\b/);
  expect(rounds).toBeGreaterThan(10);
  // eslint-disable-next-line no-console
  console.log(`secret scan: ${rounds} rounds, ${commands.size} distinct command lines, git seen: ${/\bgit\b/.test(all)}`);

  expect(outputs.join('\n')).not.toContain(NEEDLE);
  expect(outputs.join('\n')).toMatch(/debug/);
  const log = readFileSync(logJson, 'utf8');
  expect(log).toMatch(/"level":"debug"/);
  expect(log).not.toContain(NEEDLE);
  // Every file the runs left (backups, manifests, state, logs; .git raw files too), then git's own view.
  for (const dir of [site.csv2Dir, site.userDir, site.stateDir, ephemeral, site.root]) {
    for (const rel of listFiles(dir, { git: true })) {
      const p = join(dir, rel);
      if (statSync(p).isFile()) expect({ p, found: readFileSync(p).includes(NEEDLE) }).toEqual({ p, found: false });
    }
  }
  const history = await run('git', ['-C', site.csv2Dir, 'log', '-p', '--all', '--format=%H%n%an %ae%n%B'], { env: gitEnv() });
  expect(history.stdout).toContain('faulthost');
  expect(history.stdout).not.toContain(NEEDLE);
  const tracked = await run('git', ['-C', site.csv2Dir, 'grep', '-I', '-c', '-F', NEEDLE, 'HEAD']).catch((e: { code: number }) => e);
  expect((tracked as { code: number }).code).toBe(1); // git grep: 1 = no match
});

test('a connection failure does not show the password either', async () => {
  const wrong = join(tempDir('sbf-secret-wrong-'), 'database.yml');
  const wrongNeedle = `${NEEDLE}-wrong`;
  writeFileSync(wrong, credentialsYaml({ ...testServer(), user: USER, password: wrongNeedle }, site.db.name), { mode: 0o600 });
  const r = await site.run(['--db-config', wrong, '--log-level', 'debug']);
  expect(r.code).toBe(EXIT.database);
  expect(r.stderr + r.stdout).not.toContain(wrongNeedle);
  expect(r.stderr).not.toMatch(STACK_TRACE);
});

describe.each(['000', '077', '022'])('under umask %s', (umask) => {
  test('user-data directories are 0700 and files 0600 (snapshot and -e directory alike)', async () => {
    const userDir = join(site.root, `user-umask-${umask}`);
    const ephemeral = join(site.root, `eph-umask-${umask}`);
    await site.db.conn.query(`INSERT INTO l (v) VALUES ('umask ${umask}')`);
    const r = await site.run(['--config', writeConfigWith({ user_data_backup_dir: userDir }), '-e', ephemeral], { umask });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(r.stderr).not.toMatch(/readable by group or others/);
    for (const top of [userDir, ephemeral]) {
      expect(statSync(top).mode & 0o777).toBe(0o700);
      const walk = (d: string) => {
        for (const rel of listFiles(d)) {
          const p = join(d, rel);
          const st = statSync(p);
          if (rel === 'latest' || rel.endsWith('/latest')) continue;
          expect({ p, mode: (st.mode & 0o777).toString(8) }).toEqual({ p, mode: '600' });
          let parent = join(p, '..');
          while (parent.startsWith(top)) {
            expect({ parent, mode: (statSync(parent).mode & 0o777).toString(8) }).toEqual({ parent, mode: '700' });
            parent = join(parent, '..');
          }
        }
      };
      walk(top);
      expect(listFiles(top).length).toBeGreaterThan(0);
    }
  });
});

/** A copy of the site's config with some keys changed; returns its path. */
function writeConfigWith(overrides: Record<string, unknown>): string {
  const file = join(tempDir('sbf-secret-conf-'), 'schema_backup.conf');
  const base = readFileSync(site.configFile, 'utf8');
  const lines = base.split('\n').filter((l) => !Object.keys(overrides).some((k) => l.startsWith(`${k}:`)));
  writeFileSync(file, [...lines, ...Object.entries(overrides).map(([k, v]) => `${k}: ${JSON.stringify(v)}`)].join('\n'));
  return file;
}

test('a user_data_backup_dir readable by group or others is reported with a warning', async () => {
  const userDir = join(site.root, 'user-readable');
  mkdirSync(userDir, { mode: 0o755 });
  await site.db.conn.query("INSERT INTO l (v) VALUES ('readable')");
  const r = await site.run(['--config', writeConfigWith({ user_data_backup_dir: userDir })]);
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/warn .*user_data_backup_dir is readable by group or others.*mode=755/);
});

test('user data inside the git work tree is refused (exit 3, nothing touched) unless git ignores it', async () => {
  const inside = join(site.csv2Dir, 'userdata');
  const config = writeConfigWith({ user_data_backup_dir: inside });
  const before = await site.state();
  site.services?.clearCalls();
  const r = await site.run(['--config', config]);
  expect(r.code).toBe(EXIT.config);
  expect(r.stderr).toMatch(/lies inside the git work tree .* not ignored/);
  expect(r.stderr).not.toMatch(STACK_TRACE);
  expect(existsSync(inside)).toBe(false);
  expect(await site.state()).toEqual(before);
  expect((await site.services?.calls())?.filter((c) => c.verb !== 'is-active')).toEqual([]);

  writeFileSync(join(site.csv2Dir, '.gitignore'), 'userdata/\n');
  await site.db.conn.query("INSERT INTO l (v) VALUES ('ignored')");
  const ok = await site.run(['--config', config]);
  expect({ code: ok.code, stderr: ok.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
  expect(existsSync(join(inside, 'latest'))).toBe(true);
  const tracked = await run('git', ['-C', site.csv2Dir, 'ls-files'], { env: gitEnv() });
  expect(tracked.stdout).not.toMatch(/userdata/);
});
