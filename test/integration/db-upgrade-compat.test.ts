/**
 * CSV2's db_upgrade reads our files with its own line-based reader
 * (test/helpers/db-upgrade-reader.ts) and reloads local and ephemeral rows
 * from what it read. On a CSV2-shaped database, backed up with db_upgrade's
 * exact call, every table it reads must come back exactly: all rows, no value
 * cut by its splits, equal CHECKSUM TABLE after the replay.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { runCli, writeConfig } from '../helpers/backup';
import { CSV2_CLASSES, createCsv2Fixture } from '../helpers/csv2-fixture';
import { readColumns, readSettings, readTableRows, replayStatement } from '../helpers/db-upgrade-reader';
import { checksumTable, createTestDatabase, mariadbClient, quoteIdent, rowCount, type TestDatabase } from '../helpers/db';
import { tempDir } from '../helpers/tmp';

jest.setTimeout(240_000);

const HOST = 'csv2.example.org';

let source: TestDatabase;
let target: TestDatabase;
let work: string;
let result: { code: number; stdout: string; stderr: string };

const hostFile = (table: string) => join(work, 'git', HOST, table);

/** A fresh target holding the structures of the host files (global rows too), without triggers, as db_upgrade redefines tables. */
async function freshTarget(): Promise<void> {
  await target?.drop();
  target = await createTestDatabase('dbupgrade_target');
  for (const table of [...CSV2_CLASSES.global, ...CSV2_CLASSES.local, ...CSV2_CLASSES.ephemeral]) {
    await mariadbClient([], { database: target.name, inputFile: hostFile(table) });
  }
  const [triggers] = (await target.conn.query('SELECT TRIGGER_NAME AS name FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()')) as unknown as [{ name: string }[]];
  for (const t of triggers) await target.conn.query(`DROP TRIGGER ${quoteIdent(t.name)}`);
}

/** db_upgrade's reload: the values read, verbatim, in one INSERT loaded by the stock client. */
async function replay(table: string, rows: string[][]): Promise<void> {
  await target.conn.query(`DELETE FROM ${quoteIdent(table)}`);
  // Foreign key checks off: db_upgrade's table order is not ours to test, its values are.
  const sql = `SET FOREIGN_KEY_CHECKS=0;\n${replayStatement(table, readColumns(hostFile(table)), rows)}`;
  await mariadbClient([], { database: target.name, input: sql });
}

beforeAll(async () => {
  source = await createTestDatabase('dbupgrade_source');
  await createCsv2Fixture(source.conn);
  work = tempDir('sb-dbupgrade-');
  await fs.mkdir(join(work, 'state'));
  const config = writeConfig(work, {
    csv2BackupDir: join(work, 'git'),
    userDataBackupDir: join(work, 'user'),
    stateDir: join(work, 'state'),
    credentialsFile: source.credentialsFile,
    ...CSV2_CLASSES,
  });
  // db_upgrade's exact call (plus where to find this test's config and host name).
  result = await runCli(['--config', config, '--host-name', HOST, '--ephemeral-directory', join(work, 'eph'), '--target'], { timeoutMs: 180_000 });
  await freshTarget();
});

afterAll(async () => {
  await source?.drop();
  await target?.drop();
  if (work) await fs.rm(work, { recursive: true, force: true });
});

test('the backup succeeds without a warning about split statements', () => {
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: expect.not.stringMatching(/db_upgrade reads only the first/) });
});

test.each(CSV2_CLASSES.local)('local table %s: db_upgrade reads every row of latest/ back exactly', async (table) => {
  const rows = readTableRows(join(work, 'user', 'latest', table));
  const columns = readColumns(hostFile(table));
  expect(rows.length).toBe(await rowCount(source.conn, source.name, table));
  expect(rows.length).toBeGreaterThan(0);
  for (const row of rows) expect(row.length).toBe(columns.length);
  await replay(table, rows);
  expect(await checksumTable(target.conn, target.name, table)).toBe(await checksumTable(source.conn, source.name, table));
});

test.each(CSV2_CLASSES.ephemeral)('ephemeral table %s: db_upgrade reads every row of -e DIR back exactly', async (table) => {
  const rows = readTableRows(join(work, 'eph', table));
  expect(rows.length).toBe(await rowCount(source.conn, source.name, table));
  // Ephemeral rows never reach the host directory.
  expect(readTableRows(hostFile(table))).toEqual([]);
  await replay(table, rows);
  expect(await checksumTable(target.conn, target.name, table)).toBe(await checksumTable(source.conn, source.name, table));
});

test('csv2_configuration: the settings reader cuts no value', async () => {
  const settings = readSettings(hostFile('csv2_configuration'));
  expect(settings.length).toBe(await rowCount(source.conn, source.name, 'csv2_configuration'));
  for (const row of settings) expect(row).toHaveLength(4);
  const pause = settings.find((r) => r[0] === 'ProcessMonitor' && r[1] === 'pause');
  expect(pause).toEqual(['ProcessMonitor', 'pause', 'bool', 'False']);
  // The values still carry their escapes; quoted again they are the same strings.
  await replay('csv2_configuration', settings.map((r) => r.map((v) => `'${v}'`)));
  expect(await checksumTable(target.conn, target.name, 'csv2_configuration')).toBe(await checksumTable(source.conn, source.name, 'csv2_configuration'));
});

test('every row file is one INSERT statement on one line, and global files load with the stock client', async () => {
  for (const file of [...CSV2_CLASSES.local.map((t) => join(work, 'user', 'latest', t)), ...CSV2_CLASSES.ephemeral.map((t) => join(work, 'eph', t)), hostFile('csv2_configuration')]) {
    const inserts = (await fs.readFile(file, 'utf8')).split('\n').filter((l) => l.startsWith('INSERT'));
    expect({ file, inserts: inserts.length }).toEqual({ file, inserts: 1 });
  }
  for (const table of CSV2_CLASSES.global) {
    expect({ table, sum: await checksumTable(target.conn, target.name, table) }).toEqual({ table, sum: await checksumTable(source.conn, source.name, table) });
  }
});
