/**
 * Consumers are never left down by a failure that comes after the snapshot
 * opened (the point where the run lets them run again): in every mode
 * (default, -m, -t) a dump connection killed mid-table, a commit refused by a
 * hook and a backup that does not verify start again exactly the consumers
 * that were running, and leave no recovery record. In target mode a run
 * killed outright after that point leaves its record, so the next run starts
 * them.
 */
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConnection, type RowDataPacket } from 'mysql2/promise';
import { EXIT } from '../../src/errors';
import { RECOVERY_FILE } from '../../src/services/recovery';
import { credentialsYaml, testServer } from '../helpers/db';
import { CONSUMER_UNIT, createSite, hostDirProblems, incompleteSnapshots, STACK_TRACE, type CliProcess, type Site } from '../helpers/faults';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

jest.setTimeout(240_000);

const BIG_ROWS = 400_000;
let site: Site;
/** Credentials of a user with every privilege on the site's database and none elsewhere (so verify cannot create its scratch database). */
let confinedCredentials: string;
const CONFINED = `sb_latefail_${process.pid}`;

beforeAll(async () => {
  site = await createSite({ label: 'late_failure', global: ['g', 'big'], local: ['l'] });
  await site.db.conn.query(
    'CREATE TABLE g (id INT PRIMARY KEY, v TEXT) ENGINE=InnoDB; INSERT INTO g VALUES (1, "a");' +
      `CREATE TABLE big (id INT PRIMARY KEY, v VARCHAR(100)) ENGINE=InnoDB; INSERT INTO big SELECT seq, REPEAT('y', 60) FROM seq_1_to_${BIG_ROWS};` +
      'CREATE TABLE l (id INT AUTO_INCREMENT PRIMARY KEY, v TEXT); INSERT INTO l (v) VALUES ("x")',
  );
  expect((await site.run()).code).toBe(0);
  await site.db.conn.query(`CREATE USER '${CONFINED}'@'%' IDENTIFIED BY 'confined-pw'; GRANT ALL PRIVILEGES ON \`${site.db.name}\`.* TO '${CONFINED}'@'%'`);
  confinedCredentials = join(tempDir('sbf-late-cred-'), 'cloudscheduler.yaml');
  writeFileSync(confinedCredentials, credentialsYaml({ ...testServer(), user: CONFINED, password: 'confined-pw' }, site.db.name), { mode: 0o600 });
});

afterAll(async () => {
  await site.db.conn.query(`DROP USER IF EXISTS '${CONFINED}'@'%'`);
  await site.cleanup();
  cleanupTempDirs();
});

/** Kills the run's session while it reads `big` (after the snapshot opened and the consumers were let go). */
async function killDumpOfBig(running: CliProcess): Promise<void> {
  await running.waitForStderr(/phase=dumping/);
  const admin = await createConnection(testServer());
  try {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const [sessions] = await admin.query<RowDataPacket[]>(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE 'SELECT%' AND INFO LIKE '%`big`%' AND ID <> CONNECTION_ID()",
        [site.db.name],
      );
      if (sessions.length > 0) {
        await admin.query(`KILL ${Number(sessions[0]?.ID)}`);
        return;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error(`the dump of big was never seen:\n${running.stderr()}`);
  } finally {
    await admin.end();
  }
}

const HOOK = () => join(site.csv2Dir, '.git', 'hooks', 'pre-commit');

const FAILURES: Record<string, { code: number; message: RegExp; args?: string[]; setup?: () => void; undo?: () => void; during?: (r: CliProcess) => Promise<void> }> = {
  'dump connection killed mid-table': { code: EXIT.database, message: /killed|interrupted|Connection lost|PROTOCOL_CONNECTION_LOST/i, during: killDumpOfBig },
  'commit refused by a pre-commit hook': {
    code: EXIT.store,
    message: /refused by the test hook/,
    setup: () => {
      writeFileSync(HOOK(), '#!/bin/sh\necho "refused by the test hook" >&2\nexit 1\n');
      chmodSync(HOOK(), 0o755);
    },
    undo: () => writeFileSync(HOOK(), '#!/bin/sh\nexit 0\n'),
  },
  'backup that cannot be verified': {
    code: EXIT.verify,
    message: /verification could not run: verify cannot use the scratch database/,
    // A scratch database this user may not create: the backup is written, its verification cannot run.
    setup: () => site.writeConfig({ verify_after_backup: true, verify_database: `sbverify_none_${process.pid}`, db_config: confinedCredentials }),
    undo: () => site.writeConfig(),
  },
};

describe.each([
  ['default', []],
  ['model (-m)', ['-m']],
  ['target (-t)', ['-t']],
] as const)('%s mode', (_mode, modeArgs) => {
  test.each(Object.keys(FAILURES))('%s: the consumer runs again and no recovery record is left', async (name) => {
    const failure = FAILURES[name] as (typeof FAILURES)[string];
    await site.db.conn.query(`UPDATE g SET v = '${name} ${modeArgs.join('')} ${Date.now()}'; UPDATE big SET v = REPEAT('z', 60) WHERE id = 7`);
    expect(await site.consumerRunning()).toBe(true);
    failure.setup?.();
    const before = await site.state();
    let code: number | null;
    let stderr: string;
    try {
      const running = site.start([...modeArgs, '--log-level', 'debug']);
      if (failure.during) await failure.during(running);
      ({ code, stderr } = await running.result);
    } finally {
      failure.undo?.();
    }
    const context = `exit ${code}\n${stderr}`;
    expect({ context, code }).toEqual({ context, code: failure.code });
    expect(stderr).toMatch(failure.message);
    expect(stderr).not.toMatch(STACK_TRACE);
    expect(await site.consumerRunning()).toBe(true);
    expect(existsSync(join(site.stateDir, RECOVERY_FILE))).toBe(false);
    if (failure.code !== EXIT.verify) expect(await site.state()).toEqual(before);
    expect(incompleteSnapshots(site.userDir)).toEqual([]);
    expect(hostDirProblems(site.hostDir)).toEqual([]);
    // Started again once: stopped by the run, started by the run.
    const calls = ((await site.services?.calls()) ?? []).filter((c) => c.unit === CONSUMER_UNIT && c.verb !== 'is-active');
    expect(calls.slice(-2).map((c) => c.verb)).toEqual(['stop', 'start']);
  });
});

test('target mode, killed (SIGKILL) after the snapshot opened: the recovery record stays and the next run starts the consumer', async () => {
  await site.db.conn.query(`UPDATE g SET v = 'sigkill ${Date.now()}'`);
  const running = site.start(['-t', '--log-level', 'debug']);
  await running.waitForStderr(/consumers stay stopped until the backup is complete/);
  running.child.kill('SIGKILL');
  await running.result;
  expect(await site.consumerRunning()).toBe(false);
  expect(existsSync(join(site.stateDir, RECOVERY_FILE))).toBe(true);
  const next = await site.run();
  expect({ code: next.code, stderr: next.stderr }).toEqual({ code: 0, stderr: expect.stringMatching(/starting consumers left stopped by an interrupted run/) });
  expect(await site.consumerRunning()).toBe(true);
  expect(existsSync(join(site.stateDir, RECOVERY_FILE))).toBe(false);
});
