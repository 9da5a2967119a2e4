/**
 * CSV2's pause flag against the shared MariaDB, below the CLI: the flag's
 * reads and writes on a CSV2-like csv2_configuration, the quiescer (previous
 * value recorded, set, put back without overwriting another change), the
 * recovery after a killed run, and the row reader's override saving the
 * previous value in bytes equal to a plain read of the unpaused table, for
 * each character set the column may have.
 */
import { MemorySink } from '../helpers/memory-sink';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { RowDataPacket } from 'mysql2/promise';
import { savedValueColumns } from '../../src/backup/saved-values';
import { loadCredentials } from '../../src/config/credentials';
import type { DbCredentials } from '../../src/config/types';
import { connect, where } from '../../src/db/connect';
import { describeTables } from '../../src/db/introspect';
import { prepareSession } from '../../src/db/snapshot';
import { dumpRows } from '../../src/dump/rows';
import { ConfigError, ServiceError } from '../../src/errors';
import { createPauseFlagQuiescer } from '../../src/services/pause-flag';
import { createPauseFlagDb, type PauseFlagDb } from '../../src/services/pause-flag-db';
import { pauseRecordPath, recoverPauseFlag, type FlagTarget } from '../../src/services/pause-flag-record';
import type { QuiesceReport } from '../../src/domain/service-report';
import { captureLog, deadPid } from '../helpers/capture-log';
import { CSV2_CONFIGURATION, CSV2_ROWS } from '../helpers/csv2-configuration';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

const CONFIG_FILE = '/etc/schema_backup/schema_backup.conf';

let db: TestDatabase;
let credentials: DbCredentials;
let target: FlagTarget;
let flag: PauseFlagDb;

beforeEach(async () => {
  db = await createTestDatabase('pause_flag');
  await db.conn.query(`${CSV2_CONFIGURATION}; ${CSV2_ROWS}`);
  credentials = loadCredentials({ cliPath: db.credentialsFile, configured: null });
  target = { server: where(credentials), database: credentials.database };
  flag = createPauseFlagDb({ credentials, configFile: CONFIG_FILE });
});

afterEach(async () => {
  await db.drop();
});

afterAll(cleanupTempDirs);

async function flagValue(): Promise<string | null | undefined> {
  const [rows] = await db.conn.query<RowDataPacket[]>("SELECT config_value FROM csv2_configuration WHERE category = 'ProcessMonitor' AND config_key = 'pause'");
  return rows.length ? (rows[0]?.config_value as string | null) : undefined;
}

async function setFlag(value: string | null): Promise<void> {
  await db.conn.query("UPDATE csv2_configuration SET config_value = ? WHERE category = 'ProcessMonitor' AND config_key = 'pause'", [value]);
}

async function tableChecksum(): Promise<string> {
  const [rows] = await db.conn.query<RowDataPacket[]>('CHECKSUM TABLE csv2_configuration EXTENDED');
  return String(rows[0]?.Checksum);
}

describe('the flag in the database', () => {
  test('read gives the value; pause sets True in one transaction after the callback; restore puts back the value given', async () => {
    expect(await flag.read()).toBe('False');
    const seen: (string | null | undefined)[] = [];
    const previous = await flag.pause(async (value) => {
      seen.push(value);
    });
    expect(previous).toBe('False');
    expect(seen).toEqual(['False']);
    expect(await flagValue()).toBe('True');
    expect(await flag.restore('False')).toBe('restored');
    expect(await flagValue()).toBe('False');
  });

  test('restore puts back any previous value exactly (not just False), NULL included', async () => {
    for (const value of ['No', "it's \\ é", null]) {
      await setFlag(value);
      expect(await flag.pause(async () => undefined)).toBe(value);
      expect(await flagValue()).toBe('True');
      expect(await flag.restore(value)).toBe('restored');
      expect(await flagValue()).toBe(value);
    }
  });

  test('restore never overwrites a change made meanwhile, and says so', async () => {
    await flag.pause(async () => undefined);
    await setFlag('Maintenance');
    expect(await flag.restore('False')).toBe('changed');
    expect(await flagValue()).toBe('Maintenance');
    await setFlag('False');
    expect(await flag.restore('False')).toBe('unchanged');
    await db.conn.query('DELETE FROM csv2_configuration WHERE config_key = ?', ['pause']);
    expect(await flag.restore('False')).toBe('missing');
  });

  test('a missing row is a ConfigError naming the table, the row, the database and the file; nothing is changed', async () => {
    await db.conn.query("DELETE FROM csv2_configuration WHERE config_key = 'pause'");
    const before = await tableChecksum();
    for (const attempt of [() => flag.read(), () => flag.pause(async () => undefined)]) {
      const err = await attempt().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).exitCode).toBe(3);
      expect((err as Error).message).toContain(
        `${CONFIG_FILE}: quiesce: \`quiesce: pause-flag\` needs the row category='ProcessMonitor', config_key='pause' of table csv2_configuration in database ${db.name}: there is no such row.`,
      );
      expect((err as Error).message).toMatch(/or set `quiesce: stop`; nothing was touched/);
    }
    expect(await tableChecksum()).toBe(before);
  });

  test('a missing table is the same ConfigError', async () => {
    await db.conn.query('DROP TABLE csv2_configuration');
    const err = await flag.read().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/needs the row .* of table csv2_configuration .*: the table or its columns are missing \(.*doesn't exist/);
  });
});

describe('the quiescer', () => {
  test('records the previous value before setting True, waits pause_interval, puts it back on resume (once), removes the record', async () => {
    const stateDir = tempDir('sb-pause-');
    const waits: number[] = [];
    let recordDuringWait: unknown = null;
    const q = createPauseFlagQuiescer({
      flag,
      target,
      pauseIntervalSec: 2,
      stateDir,
      log: captureLog().log,
      sleep: async (ms) => {
        waits.push(ms);
        recordDuringWait = JSON.parse(readFileSync(pauseRecordPath(stateDir), 'utf8'));
        expect(await flagValue()).toBe('True');
      },
    });
    await setFlag('No');
    await q.quiesce();
    expect(waits).toEqual([2000]);
    expect(recordDuringWait).toMatchObject({ pid: process.pid, previous: 'No', ...target });
    expect(q.report().pauseFlag).toEqual({ previous: 'No', restore: null, error: null });
    await Promise.all([q.resume(), q.resume()]);
    await q.resume({ backupFailed: true });
    expect(await flagValue()).toBe('No');
    expect(existsSync(pauseRecordPath(stateDir))).toBe(false);
    const report: QuiesceReport = q.report();
    expect(report).toMatchObject({ mode: 'default', stopped: [], restarted: [], pauseFlag: { previous: 'No', restore: 'restored', error: null } });
    expect(report.downtimeMs).toBeGreaterThanOrEqual(0);
  });

  test('a flag the site had already set is left set, without waiting', async () => {
    const stateDir = tempDir('sb-pause-');
    const waits: number[] = [];
    await setFlag('True');
    const q = createPauseFlagQuiescer({ flag, target, pauseIntervalSec: 5, stateDir, log: captureLog().log, sleep: async (ms) => void waits.push(ms) });
    await q.quiesce();
    await q.resume();
    expect(waits).toEqual([]);
    expect(await flagValue()).toBe('True');
    expect(q.report().pauseFlag).toEqual({ previous: 'True', restore: 'unchanged', error: null });
  });

  test('when the flag cannot be put back: the error is reported, the record is kept, and the next run puts it back', async () => {
    const stateDir = tempDir('sb-pause-');
    let broken = false;
    const flaky: PauseFlagDb = { ...flag, restore: (v) => (broken ? Promise.reject(new Error('server gone away')) : flag.restore(v)) };
    const q = createPauseFlagQuiescer({ flag: flaky, target, pauseIntervalSec: 0, stateDir, log: captureLog().log });
    await q.quiesce();
    broken = true;
    await q.resume();
    expect(q.report().pauseFlag).toEqual({ previous: 'False', restore: null, error: 'server gone away' });
    expect(await flagValue()).toBe('True');
    expect(existsSync(pauseRecordPath(stateDir))).toBe(true);

    const { log, text } = captureLog();
    expect(await recoverPauseFlag(stateDir, target, () => flag, log)).toBe('restored');
    expect(await flagValue()).toBe('False');
    expect(existsSync(pauseRecordPath(stateDir))).toBe(false);
    expect(text()).toMatch(/warn .*pause flag put back after an interrupted run/);
  });

  test('a record left for another database blocks a pause-flag run (ServiceError) and is not applied here', async () => {
    const stateDir = tempDir('sb-pause-');
    const elsewhere = { pid: await deadPid(), startedAt: '2020-01-01T00:00:00.000Z', server: 'db2:3306', database: 'csv2', previous: 'False' };
    writeFileSync(pauseRecordPath(stateDir), JSON.stringify(elsewhere));
    await setFlag('True');
    const { log, text } = captureLog();
    expect(await recoverPauseFlag(stateDir, target, () => flag, log)).toBe('elsewhere');
    expect(text()).toMatch(/error .*pause flag recovery record names another database; left alone/);
    expect(await flagValue()).toBe('True');
    const q = createPauseFlagQuiescer({ flag, target, pauseIntervalSec: 0, stateDir, log });
    await expect(q.quiesce()).rejects.toThrow(ServiceError);
    await expect(q.quiesce()).rejects.toThrow(/a pause flag recovery record from an interrupted run is still pending/);
    await q.resume();
    expect(await flagValue()).toBe('True');
    expect(JSON.parse(readFileSync(pauseRecordPath(stateDir), 'utf8'))).toEqual(elsewhere);
  });

  test('recovery of a dead run: puts the value back only if the flag still holds True; a live run is left alone', async () => {
    const stateDir = tempDir('sb-pause-');
    const dead = { pid: await deadPid(), startedAt: '2020-01-01T00:00:00.000Z', ...target, previous: 'No' };
    writeFileSync(pauseRecordPath(stateDir), JSON.stringify(dead));
    await setFlag('Maintenance');
    expect(await recoverPauseFlag(stateDir, target, () => flag, captureLog().log)).toBe('changed');
    expect(await flagValue()).toBe('Maintenance');
    expect(existsSync(pauseRecordPath(stateDir))).toBe(false);

    // This very process, with a record it does not hold: judged dead (no live nonce).
    writeFileSync(pauseRecordPath(stateDir), JSON.stringify({ ...dead, pid: process.pid, nonce: 'not-ours' }));
    await setFlag('True');
    expect(await recoverPauseFlag(stateDir, target, () => flag, captureLog().log)).toBe('restored');
    expect(await flagValue()).toBe('No');

    // A live run's record (pid 1 is alive; no procStart to compare): left alone, and the database is not even asked.
    writeFileSync(pauseRecordPath(stateDir), JSON.stringify({ ...dead, pid: 1 }));
    const untouchable = () => {
      throw new Error('the database must not be touched');
    };
    expect(await recoverPauseFlag(stateDir, target, untouchable, captureLog().log)).toBe('alive');
    expect(existsSync(pauseRecordPath(stateDir))).toBe(true);
  });
});


describe('the row reader saves the previous value', () => {
  async function dumpConfiguration(columns?: ReadonlyMap<string, string>): Promise<string> {
    const conn = await connect(credentials);
    try {
      await prepareSession(conn);
      const detail = (await describeTables(conn)).get('csv2_configuration');
      if (!detail) throw new Error('no csv2_configuration');
      const sink = new MemorySink();
      await dumpRows(conn, detail, sink, { columnExpressions: columns });
      return sink.text();
    } finally {
      await conn.close();
    }
  }

  async function overrideFor(previous: string | null): Promise<ReadonlyMap<string, string> | undefined> {
    const conn = await connect(credentials);
    try {
      const detail = (await describeTables(conn)).get('csv2_configuration');
      const report: QuiesceReport = { mode: 'default', stopped: [], alreadyStopped: [], restarted: [], restartFailures: [], providersRestarted: [], downtimeMs: null, pauseFlag: { previous, restore: null, error: null } };
      return savedValueColumns(detail as NonNullable<typeof detail>, report);
    } finally {
      await conn.close();
    }
  }

  test.each([
    ['utf8mb4 (default collation)', 'varchar(128) CHARACTER SET utf8mb4'],
    ['latin1', 'varchar(128) CHARACTER SET latin1'],
    ['utf8mb4_bin text', 'text CHARACTER SET utf8mb4 COLLATE utf8mb4_bin'],
    ['varbinary', 'varbinary(128)'],
  ])('config_value %s: with the flag set to True, the same bytes as a plain read of the unpaused table', async (_label, type) => {
    await db.conn.query(`ALTER TABLE csv2_configuration MODIFY config_value ${type} NULL`);
    for (const previous of ['False', "it's \\ é", null]) {
      await setFlag(previous);
      const unpaused = await dumpConfiguration();
      expect(unpaused).toContain("('ProcessMonitor','pause',");
      await setFlag('True');
      const columns = await overrideFor(previous);
      expect(columns?.size).toBe(1);
      expect(await dumpConfiguration(columns)).toBe(unpaused);
      expect(await dumpConfiguration()).not.toBe(unpaused);
    }
  });
});
