/**
 * `quiesce: pause-flag` end to end: the CLI as a subprocess on the shared
 * MariaDB with a CSV2-like csv2_configuration, the test polling the flag as
 * a consumer would, and a fake systemctl (first on PATH) proving that no
 * service is touched in the default mode. After every run, failed, stopped
 * or killed (then followed by the next run), the flag holds its value from
 * before, and the saved csv2_configuration holds that value too.
 */
import { rowTuples } from '../../src/store/row-changes';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { EXIT } from '../../src/errors';
import { killStartedClis, runCli, startCli, until, writeConfig, type CliChild, type CliResult } from '../helpers/backup';
import { CSV2_CONFIGURATION, CSV2_ROWS } from '../helpers/csv2-configuration';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { createFakeServices, type FakeCall, type FakeServices } from '../helpers/fake-services';
import { gitHead } from '../helpers/git';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

const HOST = 'h';
const BIG_ROWS = 300_000;
const RECORD = 'paused-flag.json';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let db: TestDatabase;
const fakes: FakeServices[] = [];

beforeAll(async () => {
  db = await createTestDatabase('pause_flag_cli');
  // Not protected by the snapshot: read under a lock while the consumers are still paused.
  await db.conn.query(`CREATE TABLE bigm (id INT PRIMARY KEY, pad VARCHAR(100)) ENGINE=MyISAM; INSERT INTO bigm SELECT seq, REPEAT('y', 100) FROM seq_1_to_${BIG_ROWS}`);
}, 60000);

beforeEach(async () => {
  await db.conn.query(`DROP TABLE IF EXISTS csv2_configuration; ${CSV2_CONFIGURATION}; ${CSV2_ROWS}`);
});

afterEach(async () => {
  killStartedClis();
  for (const f of fakes.splice(0)) await f.cleanup();
});

afterAll(async () => {
  await db?.drop();
  cleanupTempDirs();
});

async function flagValue(): Promise<string | null | undefined> {
  const [rows] = await db.conn.query<RowDataPacket[]>("SELECT config_value FROM csv2_configuration WHERE category = 'ProcessMonitor' AND config_key = 'pause'");
  return rows.length ? (rows[0]?.config_value as string | null) : undefined;
}

async function setFlag(value: string | null): Promise<void> {
  await db.conn.query("UPDATE csv2_configuration SET config_value = ? WHERE category = 'ProcessMonitor' AND config_key = 'pause'", [value]);
}

/**
 * Polls the flag as a CSV2 consumer would; stop() returns the distinct values seen, in order, the value at
 * stop() included (a change in the poll's last sleep would be missed otherwise).
 */
function watchFlag(): { stop(): Promise<(string | null | undefined)[]> } {
  const seen: (string | null | undefined)[] = [];
  const note = (v: string | null | undefined): void => {
    if (seen.length === 0 || seen[seen.length - 1] !== v) seen.push(v);
  };
  let running = true;
  const loop = (async () => {
    while (running) {
      note(await flagValue());
      await sleep(10);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      note(await flagValue());
      return seen;
    },
  };
}

interface Setup {
  work: string;
  config: string;
  gitDir: string;
  stateDir: string;
  fake: FakeServices;
  args(...more: string[]): string[];
  /** The saved csv2_configuration in the host directory. */
  saved(): string;
}

/** consumers: writer (running: it must not be stopped in the default mode); providers: db. */
async function setup(opts: { quiesce?: string; pauseInterval?: number; local?: string[] } = {}): Promise<Setup> {
  const work = tempDir('pause-cli-');
  const gitDir = join(work, 'git');
  const stateDir = join(work, 'state');
  const fake = createFakeServices({ writer: 'exec sleep 1000', db: 'exec sleep 1000' });
  fakes.push(fake);
  await fake.start('writer');
  await fake.start('db');
  fake.clearCalls();
  const config = writeConfig(work, {
    csv2BackupDir: gitDir,
    userDataBackupDir: join(work, 'user'),
    stateDir,
    credentialsFile: db.credentialsFile,
    global: ['csv2_configuration'],
    local: opts.local ?? [],
    ignore: ['bigm'].filter((t) => !(opts.local ?? []).includes(t)),
    consumers: ['writer'],
    providers: ['db'],
    extra: `quiesce: ${opts.quiesce ?? 'pause-flag'}`,
  });
  writeFileSync(config, readFileSync(config, 'utf8').replace(/^pause_interval: .*$/m, `pause_interval: ${opts.pauseInterval ?? 0}`));
  return {
    work,
    config,
    gitDir,
    stateDir,
    fake,
    args: (...more) => ['--config', config, '--db-config', db.credentialsFile, '--host-name', HOST, ...more],
    saved: () => readFileSync(join(gitDir, HOST, 'csv2_configuration'), 'utf8'),
  };
}

const lines = (calls: FakeCall[]) => calls.map((c) => `${c.verb} ${c.unit}`);

function expectExit(r: CliResult, code: number): void {
  expect({ code: r.code, stderr: r.stderr.slice(-3000) }).toEqual({ code, stderr: expect.any(String) });
}

/** The saved flag row's tuple. */
function savedFlagRow(text: string): string | undefined {
  const row = rowTuples(text).find((t) => t.startsWith("'ProcessMonitor','pause',"));
  return row === undefined ? undefined : `(${row})`;
}




/** Waits until the run reads `table`; returns that connection's id. */
async function dumpConnection(cli: CliChild, table: string): Promise<number> {
  let id: number | null = null;
  await until(`a query reading ${table}`, async () => {
    if (cli.child.exitCode !== null) throw new Error(`the run ended before reading ${table}:\n${cli.stderr()}`);
    const [rows] = await db.conn.query<RowDataPacket[]>(
      "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND COMMAND IN ('Query', 'Execute') AND ID <> CONNECTION_ID() AND INFO LIKE ?",
      [db.name, `%FROM \`${table}\`%`],
    );
    id = (rows[0]?.ID as number | undefined) ?? null;
    return id !== null;
  });
  return id as unknown as number;
}

describe('a pause-flag run', () => {
  test.each([['False'], ["it's \\ é"]])(
    'previous value %s: True while the rows are read, then put back; no systemctl call; the backup saves the previous value and verifies',
    async (previous) => {
      await setFlag(previous);
      const s = await setup({ pauseInterval: 1 });
      const watch = watchFlag();
      const r = await runCli(s.args(), { env: s.fake.env });
      const seen = await watch.stop();
      expectExit(r, EXIT.ok);
      expect(seen).toEqual([previous, 'True', previous]);
      expect(await flagValue()).toBe(previous);
      expect(await s.fake.calls()).toEqual([]);
      expect(await s.fake.isRunning('writer')).toBe(true);
      expect(r.stderr).toMatch(/consumers paused: pause flag set/);
      expect(r.stderr).toMatch(/pausing after setting the pause flag seconds=1/);
      expect(r.stdout).toContain(`services (default, pause flag): flag set (was ${JSON.stringify(previous)}), put back; consumers paused`);
      const paused = Number(/consumers paused (\d+\.\d) s/.exec(r.stdout)?.[1]);
      expect(paused).toBeGreaterThanOrEqual(1);
      expect(existsSync(join(s.stateDir, RECORD))).toBe(false);

      // The snapshot read 'True'; the file holds the value from before, exactly as a run without the flag saves it.
      const saved = s.saved();
      expect(savedFlagRow(saved)).toBe(`('ProcessMonitor','pause','bool',${previous === 'False' ? "'False'" : "'it\\'s \\\\ é'"})`);
      const head = await gitHead(s.gitDir);
      const online = await runCli(s.args('--online'), { env: s.fake.env });
      expectExit(online, EXIT.ok);
      expect(online.stdout).toContain('commit: none (nothing changed)');
      expect(s.saved()).toBe(saved);
      expect(await gitHead(s.gitDir)).toBe(head);

      // The manifest's checksums agree with what was written (verify restores it and dumps it again).
      const verify = await runCli(['verify', ...s.args()], { env: s.fake.env });
      expectExit(verify, EXIT.ok);
      expect(await flagValue()).toBe(previous);
    },
    60000,
  );

  test('without the row: exit 3 naming the table, the row and the file, before anything is touched', async () => {
    await db.conn.query("DELETE FROM csv2_configuration WHERE config_key = 'pause'");
    const s = await setup();
    const r = await runCli(s.args(), { env: s.fake.env });
    expectExit(r, EXIT.config);
    expect(r.stderr).toContain(`${s.config}: quiesce: \`quiesce: pause-flag\` needs the row category='ProcessMonitor', config_key='pause' of table csv2_configuration in database ${db.name}: there is no such row`);
    expect(await s.fake.calls()).toEqual([]);
    expect(existsSync(s.gitDir)).toBe(false);
    expect(existsSync(join(s.stateDir, RECORD))).toBe(false);
    expect(await flagValue()).toBeUndefined();
  });

  test('-m: consumers stopped and providers restarted as always, the flag untouched; --online: neither', async () => {
    const s = await setup();
    const watch = watchFlag();
    const model = await runCli(s.args('-m'), { env: s.fake.env });
    expectExit(model, EXIT.ok);
    expect(lines(await s.fake.calls())).toEqual(['is-active writer', 'stop writer', 'restart db', 'start writer']);
    expect(model.stderr).toMatch(/quiesce: pause-flag applies to the default mode; this mode stops the consumers mode=model/);
    s.fake.clearCalls();
    const online = await runCli(s.args('--online'), { env: s.fake.env });
    expectExit(online, EXIT.ok);
    expect(await s.fake.calls()).toEqual([]);
    expect(await watch.stop()).toEqual(['False']);
    expect(online.stderr).not.toMatch(/pause-flag/);
  }, 60000);
});

describe('the flag is put back on every failure path', () => {
  test('a storage error (-e DIR is a file): exit 5, flag back, no commit', async () => {
    await setFlag('No');
    const s = await setup();
    const notADir = join(s.work, 'not-a-dir');
    writeFileSync(notADir, 'x');
    const watch = watchFlag();
    const r = await runCli(s.args('-e', notADir), { env: s.fake.env });
    expectExit(r, EXIT.store);
    expect(r.stderr).toContain(notADir);
    expect(await watch.stop()).toEqual(['No', 'True', 'No']);
    expect(await gitHead(s.gitDir)).toBeNull();
    expect(existsSync(join(s.stateDir, RECORD))).toBe(false);
  });

  test('the dump connection killed while the flag is set: exit 4, flag back', async () => {
    const s = await setup({ local: ['bigm'] });
    const cli = startCli(s.args(), s.fake.env);
    const id = await dumpConnection(cli, 'bigm');
    expect(await flagValue()).toBe('True');
    await db.conn.query(`KILL CONNECTION ${Number(id)}`);
    const r = await cli.done;
    expectExit(r, EXIT.database);
    expect(r.stderr).toMatch(/bigm/);
    expect(await flagValue()).toBe('False');
    expect(await gitHead(s.gitDir)).toBeNull();
    expect(existsSync(join(s.stateDir, RECORD))).toBe(false);
    expect(await s.fake.calls()).toEqual([]);
  }, 60000);

  test('SIGTERM while the flag is set: exit 130, flag back', async () => {
    const s = await setup({ local: ['bigm'] });
    const cli = startCli(s.args(), s.fake.env);
    await dumpConnection(cli, 'bigm');
    expect(await flagValue()).toBe('True');
    cli.child.kill('SIGTERM');
    const r = await cli.done;
    expectExit(r, EXIT.interrupted);
    expect(r.stderr).toMatch(/signal received/);
    expect(await flagValue()).toBe('False');
    expect(await gitHead(s.gitDir)).toBeNull();
    expect(existsSync(join(s.stateDir, RECORD))).toBe(false);
  }, 60000);

  test('SIGKILL while the flag is set: it stays True with a record; the next run puts it back first and saves the value from before', async () => {
    await setFlag('No');
    const s = await setup({ pauseInterval: 5 });
    const cli = startCli(s.args(), s.fake.env);
    await until('the run set the flag', async () => (await flagValue()) === 'True' && /pausing after setting the pause flag/.test(cli.stderr()));
    cli.child.kill('SIGKILL');
    expect((await cli.done).signal).toBe('SIGKILL');
    expect(await flagValue()).toBe('True');
    expect(JSON.parse(readFileSync(join(s.stateDir, RECORD), 'utf8'))).toMatchObject({ previous: 'No', database: db.name });

    writeFileSync(s.config, readFileSync(s.config, 'utf8').replace(/^pause_interval: .*$/m, 'pause_interval: 0'));
    const watch = watchFlag();
    const next = await runCli(s.args(), { env: s.fake.env });
    expectExit(next, EXIT.ok);
    expect(next.stderr).toMatch(/pause flag put back after an interrupted run/);
    // Put back first, then this run's own pause (its previous value is 'No', not the dead run's 'True').
    expect(await watch.stop()).toEqual(['True', 'No', 'True', 'No']);
    expect(next.stdout).toContain('flag set (was "No"), put back');
    expect(savedFlagRow(s.saved())).toBe("('ProcessMonitor','pause','bool','No')");
    expect(existsSync(join(s.stateDir, RECORD))).toBe(false);
    expect(await s.fake.calls()).toEqual([]);
  }, 60000);
});
