/**
 * Quiescing consumers, end to end: the CLI as a subprocess; a fake systemctl
 * first on PATH keeping real state over real processes (a consumer writing
 * rows into the test database, an idle consumer left stopped, a provider that
 * is restarted); the shared MariaDB. Each mode's systemctl calls are read back
 * from the fake's calls.log, and every failure path must leave the consumers
 * this run stopped running again (except --target on success).
 */
import { rowTuples } from '../../src/store/row-changes';
import { existsSync, promises as fs, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EXIT } from '../../src/errors';
import { createConnection, type RowDataPacket } from 'mysql2/promise';
import { killStartedClis, runCli, startCli, until, writeConfig, type CliChild, type CliResult, type ConfigSpec } from '../helpers/backup';
import { createTestDatabase, testServer, type TestDatabase } from '../helpers/db';
import { createFakeServices, type FakeCall, type FakeServices } from '../helpers/fake-services';
import { gitHead } from '../helpers/git';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

const CONSUMER = resolve(__dirname, '../helpers/consumer.js');
const HOST = 'h';
const BIG_ROWS = 300_000;

let db: TestDatabase;
const fakes: FakeServices[] = [];

beforeAll(async () => {
  db = await createTestDatabase('services_cli');
  await db.conn.query(
    'CREATE TABLE consumer_writes (id bigint auto_increment primary key, written_at datetime(6), pid int);' +
      // Read from the snapshot after the consumers run again.
      `CREATE TABLE big (id INT PRIMARY KEY, pad VARCHAR(100)) ENGINE=InnoDB; INSERT INTO big SELECT seq, REPEAT('x', 100) FROM seq_1_to_${BIG_ROWS};` +
      // Not protected by the snapshot: read under a lock while the consumers are still stopped.
      `CREATE TABLE bigm (id INT PRIMARY KEY, pad VARCHAR(100)) ENGINE=MyISAM; INSERT INTO bigm SELECT seq, REPEAT('y', 100) FROM seq_1_to_${BIG_ROWS};`,
  );
}, 60000);

afterEach(async () => {
  killStartedClis();
  for (const f of fakes.splice(0)) await f.cleanup();
});

afterAll(async () => {
  await db?.drop();
  cleanupTempDirs();
});

interface Setup {
  work: string;
  config: string;
  gitDir: string;
  userDir: string;
  stateDir: string;
  fake: FakeServices;
  /** The usual arguments (there is no system configuration here), then `more`. */
  args(...more: string[]): string[];
  /** Rewrites pause_interval in the configuration. */
  setPause(seconds: number): void;
}


async function query<T = RowDataPacket>(sql: string, params: unknown[] = []): Promise<T[]> {
  const [rows] = await db.conn.query<RowDataPacket[]>(sql, params);
  return rows as unknown as T[];
}

async function rowsBy(pid: number): Promise<number> {
  return Number((await query<{ n: number }>('SELECT COUNT(*) AS n FROM consumer_writes WHERE pid = ?', [pid]))[0]?.n);
}

/**
 * consumers: writer (consumer.js, running), idle (stopped), in that order;
 * providers: db (a sleep process, running: the real database stays up).
 */
async function setup(spec: Partial<ConfigSpec> & { pauseInterval?: number; units?: Record<string, string> } = {}): Promise<Setup> {
  const work = tempDir('services-cli-');
  const gitDir = join(work, 'git');
  const userDir = join(work, 'user');
  const stateDir = join(work, 'state');
  const writer = `SB_CONSUMER_HOST=127.0.0.1 SB_CONSUMER_PORT=3306 SB_CONSUMER_USER=root SB_CONSUMER_DATABASE=${db.name} exec ${process.execPath} ${CONSUMER}`;
  const fake = createFakeServices({ writer, idle: 'exec sleep 1000', db: 'exec sleep 1000', ...spec.units });
  fakes.push(fake);
  const config = writeConfig(work, {
    csv2BackupDir: gitDir,
    userDataBackupDir: userDir,
    stateDir,
    credentialsFile: db.credentialsFile,
    consumers: ['writer', 'idle'],
    providers: ['db'],
    ...spec,
  });
  const setPause = (seconds: number) => writeFileSync(config, readFileSync(config, 'utf8').replace(/^pause_interval: .*$/m, `pause_interval: ${seconds}`));
  setPause(spec.pauseInterval ?? 0);
  await fake.start('writer');
  await fake.start('db');
  const pid = fake.pidOf('writer') as number;
  await until('the consumer writes', async () => (await rowsBy(pid)) >= 3);
  fake.clearCalls();
  return {
    work,
    config,
    gitDir,
    userDir,
    stateDir,
    fake,
    args: (...more) => ['--config', config, '--db-config', db.credentialsFile, '--host-name', HOST, ...more],
    setPause,
  };
}

/** `verb unit` of each recorded call. */
const lines = (calls: FakeCall[]) => calls.map((c) => `${c.verb} ${c.unit}`);

function callAt(calls: FakeCall[], verb: string, unit: string): number {
  const found = calls.find((c) => c.verb === verb && c.unit === unit);
  if (!found) throw new Error(`no call ${verb} ${unit} in ${JSON.stringify(lines(calls))}`);
  return found.t;
}



/** The promise's value, or null if it takes longer than `ms`. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((res) => (timer = setTimeout(() => res(null), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Fails with the exit code and the end of stderr when the code is not the one expected. */
function expectExit(r: CliResult, code: number): void {
  expect({ code: r.code, stderr: r.stderr.slice(-3000) }).toEqual({ code, stderr: expect.any(String) });
}

/**
 * Waits until `cli` is dumping and one of its connections reads `table`
 * (at any stage of the SELECT); returns that connection's id.
 */
async function dumpConnection(cli: CliChild, table: string): Promise<number> {
  await until('the run dumps', () => {
    if (cli.child.exitCode !== null) throw new Error(`the run ended (${cli.child.exitCode}) before dumping:\n${cli.stderr()}`);
    return /phase=dumping/.test(cli.stderr());
  }, 30000, 5);
  let id: number | null = null;
  await until(
    `a query reading ${table}`,
    async () => {
      const found = await query<{ ID: number }>(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND COMMAND IN ('Query', 'Execute') AND ID <> CONNECTION_ID() AND INFO LIKE ?",
        [db.name, `%FROM \`${table}\`%`],
      );
      id = found[0]?.ID ?? null;
      return id !== null;
    },
    20000,
    5,
  );
  return id as unknown as number;
}

/** Ids of the rows of a table file, in file order. */
function idsInFile(path: string): number[] {
  const text = readFileSync(path, 'utf8');
  return rowTuples(text).map((t) => Number(t.slice(0, t.indexOf(','))));
}

async function listOrEmpty(dir: string): Promise<string[]> {
  return fs.readdir(dir).catch(() => []);
}

describe('the order of systemctl calls in each mode (2 consumers: writer running, idle stopped; 1 provider)', () => {
  test('default: stops the running consumer, leaves the stopped one stopped, starts it again; the provider is untouched', async () => {
    const s = await setup({ global: ['consumer_writes'] });
    const writerBefore = s.fake.pidOf('writer');
    const dbBefore = s.fake.pidOf('db');
    const r = await runCli(s.args(), { env: s.fake.env });
    expectExit(r, EXIT.ok);
    expect(lines(await s.fake.calls())).toEqual(['is-active writer', 'is-active idle', 'stop writer', 'start writer']);
    expect(r.stderr).toMatch(/consumer already stopped; left stopped service=idle/);
    expect(r.stdout).toMatch(/services \(default\): stopped writer; started again writer; downtime \d+\.\d s/);
    expect(await s.fake.isRunning('writer')).toBe(true);
    expect(s.fake.pidOf('writer')).not.toBe(writerBefore);
    expect(await s.fake.isRunning('idle')).toBe(false);
    expect(s.fake.pidOf('db')).toBe(dbBefore);
    expect(existsSync(join(s.stateDir, 'stopped-consumers.json'))).toBe(false);
    expect(await gitHead(s.gitDir)).toMatch(/^[0-9a-f]{40}$/);
  });

  test('-m/--model: stops the consumer, restarts the provider (the database answers again), backs up, starts the consumer', async () => {
    const s = await setup({ global: ['consumer_writes'] });
    const dbBefore = s.fake.pidOf('db');
    const r = await runCli(s.args('--model'), { env: s.fake.env });
    expectExit(r, EXIT.ok);
    expect(lines(await s.fake.calls())).toEqual(['is-active writer', 'is-active idle', 'stop writer', 'restart db', 'start writer']);
    expect(r.stderr).toMatch(/restarting provider service=db/);
    expect(r.stdout).toMatch(/services \(model\): stopped writer; started again writer/);
    expect(await s.fake.isRunning('db')).toBe(true);
    expect(s.fake.pidOf('db')).not.toBe(dbBefore);
    expect(await s.fake.isRunning('writer')).toBe(true);
    expect(await s.fake.isRunning('idle')).toBe(false);
    // -m is the short form.
    s.fake.clearCalls();
    const short = await runCli(s.args('-m'), { env: s.fake.env });
    expectExit(short, EXIT.ok);
    expect(lines(await s.fake.calls())).toEqual(['is-active writer', 'is-active idle', 'stop writer', 'restart db', 'start writer']);
  });

  test("-t/--target, as db_upgrade calls it: consumers left stopped, ephemeral rows in DIR, exit 0", async () => {
    const s = await setup({ ephemeral: ['consumer_writes'] });
    const dbBefore = s.fake.pidOf('db');
    const ephemeralDir = join(s.work, 'ephemeral');
    // db_upgrade: `schema_backup --ephemeral-directory DIR --target` (+ what a system config would give).
    const r = await runCli(['--ephemeral-directory', ephemeralDir, '--target', '--config', s.config, '--db-config', db.credentialsFile, '--host-name', HOST], { env: s.fake.env });
    expectExit(r, EXIT.ok);
    expect(lines(await s.fake.calls())).toEqual(['is-active writer', 'is-active idle', 'stop writer', 'restart db']);
    expect(r.stderr).toMatch(/target mode: consumers left stopped for db_upgrade to start/);
    expect(r.stdout).toMatch(/services \(target\): stopped writer; started again none; downtime not over \(consumers still stopped\)/);
    expect(await s.fake.isRunning('writer')).toBe(false);
    expect(await s.fake.isRunning('idle')).toBe(false);
    expect(s.fake.pidOf('db')).not.toBe(dbBefore);
    // Handed over to db_upgrade: no recovery record, so the next run does not start them behind its back.
    expect(existsSync(join(s.stateDir, 'stopped-consumers.json'))).toBe(false);
    // Nobody writes any more: DIR holds exactly the table's rows.
    const ids = idsInFile(join(ephemeralDir, 'consumer_writes'));
    const [live] = await query<{ n: number; top: number }>('SELECT COUNT(*) AS n, MAX(id) AS top FROM consumer_writes');
    expect(ids.length).toBe(Number(live?.n));
    expect(Math.max(...ids)).toBe(Number(live?.top));
    expect(readFileSync(join(s.gitDir, HOST, 'consumer_writes'), 'utf8')).not.toContain('-- Rows');

    // -t is the short form; with nothing running, nothing is stopped.
    s.fake.clearCalls();
    const again = await runCli(s.args('-t'), { env: s.fake.env });
    expectExit(again, EXIT.ok);
    expect(lines(await s.fake.calls())).toEqual(['is-active writer', 'is-active idle', 'restart db']);
  });

  test('--online: no systemctl call at all', async () => {
    const s = await setup({ global: ['consumer_writes'] });
    const pids = [s.fake.pidOf('writer'), s.fake.pidOf('db')];
    const r = await runCli(s.args('--online'), { env: s.fake.env });
    expectExit(r, EXIT.ok);
    expect(await s.fake.calls()).toEqual([]);
    expect([s.fake.pidOf('writer'), s.fake.pidOf('db')]).toEqual(pids);
    expect(await s.fake.isRunning('writer')).toBe(true);
    expect(r.stdout).toMatch(/services \(online\): stopped none; started again none; downtime none/);
  });

  test('-h/--help documents every mode', async () => {
    const r = await runCli(['-h']);
    expectExit(r, EXIT.ok);
    for (const flag of ['-m, --model', '-t, --target', '--online', 'pause_interval', '-e, --ephemeral-directory']) expect(r.stdout).toContain(flag);
  });
});

test('snapshot consistency and early restart: the backup holds exactly the rows written before the stop; consumers run again while a 300k-row InnoDB table is still being dumped', async () => {
  const s = await setup({ global: ['consumer_writes'], local: ['big'], pauseInterval: 1 });
  const oldPid = s.fake.pidOf('writer') as number;
  const logFile = join(s.work, 'log.json');
  // The run's read of `big` waits for this write lock, so "still being dumped" does not depend on how fast
  // the dump is: the lock goes once the restarted consumer has written (or after 20 s, and the test fails).
  const locker = await createConnection({ ...testServer(), database: db.name });
  await locker.query('LOCK TABLES big WRITE');
  const cli = startCli(s.args('--log-level', 'debug', '--log-json', logFile), s.fake.env);
  try {
    await until('the restarted consumer writes while the run waits to read big', async () => {
      if (cli.child.exitCode !== null) throw new Error(`the run ended (${cli.child.exitCode}) first:\n${cli.stderr()}`);
      const pid = s.fake.pidOf('writer');
      return pid !== null && pid !== oldPid && (await rowsBy(pid)) > 0;
    }, 20000, 20);
  } finally {
    await locker.query('UNLOCK TABLES');
    await locker.end();
  }
  const r = await cli.done;
  expectExit(r, EXIT.ok);
  const calls = await s.fake.calls();
  expect(lines(calls)).toEqual(['is-active writer', 'is-active idle', 'stop writer', 'start writer']);
  const stopAt = callAt(calls, 'stop', 'writer');
  const startAt = callAt(calls, 'start', 'writer');
  const newPid = s.fake.pidOf('writer') as number;

  // Exactly the rows present at snapshot time: all of the old process's rows, none of the new one's.
  const backedUp = idsInFile(join(s.gitDir, HOST, 'consumer_writes'));
  const before = (await query<{ id: number }>('SELECT id FROM consumer_writes WHERE UNIX_TIMESTAMP(written_at) * 1000 < ? ORDER BY id', [startAt])).map((x) => Number(x.id));
  expect(backedUp).toEqual(before);
  const oldTop = Number((await query<{ top: number }>('SELECT MAX(id) AS top FROM consumer_writes WHERE pid = ?', [oldPid]))[0]?.top);
  expect(Math.max(...backedUp)).toBe(oldTop);
  // Nothing was written between the stop and the restart (pause_interval 1 s leaves a window of at least 1 s).
  const quiet = await query<{ n: number }>(
    'SELECT COUNT(*) AS n FROM consumer_writes WHERE UNIX_TIMESTAMP(written_at) * 1000 BETWEEN ? AND ?',
    [stopAt + 300, startAt],
  );
  expect(startAt - stopAt).toBeGreaterThanOrEqual(1000);
  expect(Number(quiet[0]?.n)).toBe(0);

  // Early: the consumer was started before the big table's rows were all read, and wrote while the run went on.
  const log = readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { message: string; phase?: string; timestamp: string });
  const publishingAt = Date.parse(log.find((l) => l.message === 'phase' && l.phase === 'publishing')?.timestamp as string);
  expect(startAt).toBeLessThan(publishingAt);
  const duringRun = await query<{ n: number }>('SELECT COUNT(*) AS n FROM consumer_writes WHERE pid = ? AND UNIX_TIMESTAMP(written_at) * 1000 < ?', [newPid, publishingAt]);
  expect(Number(duringRun[0]?.n)).toBeGreaterThan(0);
  expect(r.stdout).toMatch(new RegExp(`local 1 \\(${BIG_ROWS} rows\\)`));
  const downtime = Number(/downtime (\d+\.\d) s/.exec(r.stdout)?.[1]);
  const total = Number(/backup complete in (\d+\.\d) s/.exec(r.stdout)?.[1]);
  expect(downtime).toBeGreaterThanOrEqual(1);
  expect(downtime).toBeLessThan(total - 0.3);
}, 60000);

describe('consumers are started again on failure paths', () => {
  test('a failed stop aborts before dumping: exit 6, no commit, no snapshot, the consumer already stopped runs again', async () => {
    const s = await setup({ consumers: ['writer', 'second', 'idle'], units: { second: 'exec sleep 1000' }, global: ['consumer_writes'], local: ['big'] });
    await s.fake.start('second');
    s.fake.clearCalls();
    s.fake.failNext('stop', 'second');
    const writerBefore = s.fake.pidOf('writer');
    const r = await runCli(s.args(), { env: s.fake.env });
    expectExit(r, EXIT.service);
    expect(r.stderr).toMatch(/could not stop consumer second: systemctl stop second failed \(exit 1\): Job for second.service failed \(injected\)/);
    expect(lines(await s.fake.calls())).toEqual([
      'is-active writer',
      'is-active second',
      'is-active idle',
      'stop writer',
      'stop second',
      'start second',
      'start writer',
    ]);
    expect(await s.fake.isRunning('writer')).toBe(true);
    expect(s.fake.pidOf('writer')).not.toBe(writerBefore);
    expect(await s.fake.isRunning('second')).toBe(true);
    expect(await s.fake.isRunning('idle')).toBe(false);
    expect(await gitHead(s.gitDir)).toBeNull();
    expect(await listOrEmpty(join(s.gitDir, HOST))).toEqual(['.schema_backup']);
    expect(await listOrEmpty(s.userDir)).toEqual([]);
    expect(existsSync(join(s.stateDir, 'stopped-consumers.json'))).toBe(false);
  });

  test('a failed restart: exit 6 and an error in the summary, the backup is kept and committed; the next run starts the consumer', async () => {
    const s = await setup({ global: ['consumer_writes'] });
    s.fake.failNext('start', 'writer');
    const r = await runCli(s.args(), { env: s.fake.env });
    expectExit(r, EXIT.service);
    expect(r.stdout).toMatch(/completed with errors/);
    expect(r.stdout).toMatch(/services \(default\): stopped writer; started again none; downtime not over \(consumers still stopped\)/);
    expect(r.stdout).toMatch(/error: consumer writer could not be started again: systemctl start writer failed \(exit 1\): Job for writer.service failed \(injected\)/);
    const head = await gitHead(s.gitDir);
    expect(head).toMatch(/^[0-9a-f]{40}$/);
    expect(r.stdout).toContain(`commit: ${head}`);
    expect(idsInFile(join(s.gitDir, HOST, 'consumer_writes')).length).toBeGreaterThan(0);
    expect(await s.fake.isRunning('writer')).toBe(false);
    expect(JSON.parse(readFileSync(join(s.stateDir, 'stopped-consumers.json'), 'utf8')).consumers).toEqual(['writer']);

    s.fake.clearCalls();
    const next = await runCli(s.args('--online'), { env: s.fake.env });
    expectExit(next, EXIT.ok);
    expect(next.stderr).toMatch(/starting consumers left stopped by an interrupted run consumers=\["writer"\]/);
    expect(lines(await s.fake.calls())).toEqual(['start writer']);
    expect(await s.fake.isRunning('writer')).toBe(true);
  });

  test('a stop that hangs times out after systemctl_timeout: exit 6 naming the timeout, nothing dumped, the consumer runs', async () => {
    const s = await setup({ global: ['consumer_writes'], extra: 'systemctl_timeout: 1' });
    s.fake.hang('stop', 'writer', 30);
    const writerBefore = s.fake.pidOf('writer');
    const t0 = Date.now();
    const r = await runCli(s.args(), { env: s.fake.env });
    expect(Date.now() - t0).toBeLessThan(15000);
    expectExit(r, EXIT.service);
    expect(r.stderr).toMatch(/could not stop consumer writer: systemctl stop writer timed out after 1 s/);
    expect(lines(await s.fake.calls())).toEqual(['is-active writer', 'is-active idle', 'stop writer', 'start writer']);
    // The hung stop was cut off before it acted: the same process still runs.
    expect(await s.fake.isRunning('writer')).toBe(true);
    expect(s.fake.pidOf('writer')).toBe(writerBefore);
    expect(await gitHead(s.gitDir)).toBeNull();
  });

  test('a storage error after quiescing (-e DIR is a file): exit 5, consumer running again, no commit', async () => {
    const s = await setup({ global: ['consumer_writes'], ephemeral: ['consumer_writes'] });
    const notADir = join(s.work, 'not-a-dir');
    writeFileSync(notADir, 'x');
    const writerBefore = s.fake.pidOf('writer');
    const r = await runCli(s.args('-e', notADir), { env: s.fake.env });
    expectExit(r, EXIT.store);
    expect(r.stderr).toContain(notADir);
    expect(lines(await s.fake.calls())).toEqual(['is-active writer', 'is-active idle', 'stop writer', 'start writer']);
    expect(await s.fake.isRunning('writer')).toBe(true);
    expect(s.fake.pidOf('writer')).not.toBe(writerBefore);
    expect(await gitHead(s.gitDir)).toBeNull();
    expect(readFileSync(notADir, 'utf8')).toBe('x');
  });

  test('a database error while the consumers are stopped (the dump connection is killed mid-table): exit 4, consumer running again, nothing published', async () => {
    const s = await setup({ global: ['consumer_writes'], local: ['bigm'] });
    const cli = startCli(s.args('--log-level', 'debug'), s.fake.env);
    const id = await dumpConnection(cli, 'bigm');
    // The MyISAM table is read before the restart: the consumer is down right now.
    expect(await s.fake.isRunning('writer')).toBe(false);
    await db.conn.query(`KILL CONNECTION ${Number(id)}`);
    const r = await within(cli.done, 20000);
    if (r === null) throw new Error(`the run still hangs 20 s after its dump connection was killed; consumer running: ${await s.fake.isRunning('writer')}\n${cli.stderr()}`);
    expectExit(r, EXIT.database);
    expect(r.stderr).toMatch(/bigm/);
    expect(lines(await s.fake.calls())).toEqual(['is-active writer', 'is-active idle', 'stop writer', 'start writer']);
    expect(await s.fake.isRunning('writer')).toBe(true);
    expect(await gitHead(s.gitDir)).toBeNull();
    expect(await listOrEmpty(s.userDir)).toEqual([]);
    expect(existsSync(join(s.stateDir, 'stopped-consumers.json'))).toBe(false);
  }, 60000);

  test('SIGTERM mid-dump: exit 130, consumer running again, no new commit, no .partial snapshot left', async () => {
    const s = await setup({ global: ['consumer_writes'], local: ['bigm'] });
    const first = await runCli(s.args('--online'), { env: s.fake.env });
    expectExit(first, EXIT.ok);
    const head = await gitHead(s.gitDir);
    const snapshotsBefore = await listOrEmpty(s.userDir);
    const cli = startCli(s.args('--log-level', 'debug'), s.fake.env);
    await dumpConnection(cli, 'bigm');
    expect(await s.fake.isRunning('writer')).toBe(false);
    cli.child.kill('SIGTERM');
    const r = await cli.done;
    expectExit(r, EXIT.interrupted);
    expect(r.stderr).toMatch(/signal received/);
    expect(lines(await s.fake.calls())).toEqual(['is-active writer', 'is-active idle', 'stop writer', 'start writer']);
    expect(await s.fake.isRunning('writer')).toBe(true);
    expect(await gitHead(s.gitDir)).toBe(head);
    const snapshotsAfter = await listOrEmpty(s.userDir);
    expect(snapshotsAfter.filter((n) => n.endsWith('.partial'))).toEqual([]);
    expect(snapshotsAfter.sort()).toEqual(snapshotsBefore.sort());
    expect(existsSync(join(s.stateDir, 'stopped-consumers.json'))).toBe(false);
  }, 60000);

  test('SIGKILL after the stop: the consumer stays down, and the next run starts it first and says so', async () => {
    const s = await setup({ global: ['consumer_writes'], pauseInterval: 3 });
    const cli = startCli(s.args(), s.fake.env);
    await until('the run stopped the consumer', async () => lines(await s.fake.calls()).includes('stop writer') && !(await s.fake.isRunning('writer')));
    cli.child.kill('SIGKILL');
    const killed = await cli.done;
    expect(killed.signal).toBe('SIGKILL');
    expect(await s.fake.isRunning('writer')).toBe(false);
    expect(JSON.parse(readFileSync(join(s.stateDir, 'stopped-consumers.json'), 'utf8')).consumers).toEqual(['writer']);

    s.setPause(0);
    s.fake.clearCalls();
    const next = await runCli(s.args(), { env: s.fake.env });
    expectExit(next, EXIT.ok);
    expect(next.stderr).toMatch(/starting consumers left stopped by an interrupted run consumers=\["writer"\]/);
    expect(next.stderr).toMatch(/taking over stale lock/);
    // First the recovery, then the run's own stop and start.
    expect(lines(await s.fake.calls())).toEqual(['start writer', 'is-active writer', 'is-active idle', 'stop writer', 'start writer']);
    expect(await s.fake.isRunning('writer')).toBe(true);
    expect(existsSync(join(s.stateDir, 'stopped-consumers.json'))).toBe(false);
  }, 60000);
});

test('one run at a time: a second run while one is active exits 7 at once, touching nothing', async () => {
  const s = await setup({ global: ['consumer_writes'], pauseInterval: 3 });
  const first = startCli(s.args(), s.fake.env);
  await until('the first run stopped the consumer', async () => lines(await s.fake.calls()).includes('stop writer') && !(await s.fake.isRunning('writer')));
  const callsBefore = lines(await s.fake.calls());
  const t0 = Date.now();
  const second = await runCli(s.args(), { env: s.fake.env });
  expect(Date.now() - t0).toBeLessThan(2500); // at once, not after the first run's pause
  expectExit(second, EXIT.busy);
  expect(second.stderr).toMatch(new RegExp(`another schema_backup run \\(PID ${first.child.pid}, started at [^)]+\\) is active`));
  expect(lines(await s.fake.calls())).toEqual(callsBefore);
  expect(await s.fake.isRunning('writer')).toBe(false); // still the first run's pause

  const r = await first.done;
  expectExit(r, EXIT.ok);
  expect(lines(await s.fake.calls())).toEqual(['is-active writer', 'is-active idle', 'stop writer', 'start writer']);
  expect(await s.fake.isRunning('writer')).toBe(true);
}, 60000);
