/**
 * A server whose sql_mode changes what a dump reads. NO_BACKSLASH_ESCAPES:
 * mysql2 fills `?` with backslash escapes, which that mode does not read as
 * such; on the snapshot's first connection, which takes many statements to a
 * query (connect.ts `batches`), a value that ends the string early would run
 * statements of its own (the configuration refuses such table names today;
 * the session must not rely on it). ANSI_QUOTES: SHOW CREATE quotes names
 * with ", which the files' loaders read as strings. PAD_CHAR_TO_FULL_LENGTH:
 * CHAR values come padded. The snapshot's sessions run with no sql_mode, as
 * mariadb-dump's own session does.
 *
 * A private server: the shared one's global sql_mode is not this test's to change.
 */
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createConnection, type Connection } from 'mysql2/promise';
import { startPrivateServer, type PrivateServer } from '../../scripts/lib/mariadb-server';
import { openSnapshot } from '../../src/db/snapshot';
import { run } from '../../src/proc/run';
import { runCli, writeConfig } from '../helpers/backup';
import { credentialsYaml } from '../helpers/db';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

jest.setTimeout(120_000);

const DATABASE = 'sbt_sql_mode';
/** Closes the string mysql2 quoted it in (under NO_BACKSLASH_ESCAPES), then runs a statement of its own. */
const HOSTILE = "x';CREATE TABLE pwned(i INT)#";

let server: PrivateServer;
let admin: Connection;

beforeAll(async () => {
  server = await startPrivateServer({ extraArgs: ['--sql-mode=NO_BACKSLASH_ESCAPES,ANSI_QUOTES,PAD_CHAR_TO_FULL_LENGTH,STRICT_TRANS_TABLES'] });
  admin = await createConnection({ host: server.host, port: server.port, user: server.user, password: server.password, multipleStatements: true });
  await admin.query(`CREATE DATABASE ${DATABASE}`);
  await admin.query(`USE ${DATABASE}`);
  await admin.query('CREATE TABLE plain (id INT PRIMARY KEY, v INT, code CHAR(5))');
  await admin.query("INSERT INTO plain VALUES (1, 10, 'ab'), (2, 20, 'abcde')");
  // Under the server's mode this literal is a, backslash, b: three characters.
  await admin.query("CREATE TABLE slashed (id INT PRIMARY KEY, v VARCHAR(10) NOT NULL DEFAULT 'a\\b')");
  await admin.query('INSERT INTO slashed (id) VALUES (1)');
});

afterAll(async () => {
  await admin?.end();
  await server?.stop();
  cleanupTempDirs();
});

const creds = () => ({ host: server.host, port: server.port, socketPath: null, user: server.user, password: server.password, database: DATABASE, source: 'test' });

test('the snapshot sessions (readers and the locks\' side connection) run with no sql_mode; a `?` value that would end its string is only a value', async () => {
  const [[global]] = (await admin.query('SELECT @@GLOBAL.sql_mode AS m')) as unknown as [[{ m: string }]];
  expect(global.m.split(',').sort()).toEqual(['ANSI_QUOTES', 'NO_BACKSLASH_ESCAPES', 'PAD_CHAR_TO_FULL_LENGTH', 'STRICT_TRANS_TABLES']);
  const snap = await openSnapshot(creds(), { readers: 2 });
  try {
    for (const db of snap.readers) expect(await db.queryArrays('SELECT @@SESSION.sql_mode')).toEqual([['']]);
    // The side connection of two readers started them under LOCK TABLES, found with the database's name as a `?` value.
    expect(snap.warnings).toEqual([]);
    expect(snap.readers).toHaveLength(2);
    expect(await snap.withReadLock('plain', async () => 'locked')).toBe('locked');
    // The first connection takes many statements to a query: here the value must stay inside its string.
    expect(await snap.db.queryArrays('SELECT ? AS v', [HOSTILE])).toEqual([[HOSTILE]]);
  } finally {
    await snap.close();
  }
  const [tables] = (await admin.query('SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1', [DATABASE])) as unknown as [{ t: string }[]];
  expect(tables.map((t) => t.t)).toEqual(['plain', 'slashed']);
});

test("the files come back through the stock client (names quoted with backticks, a default's backslash), CHAR values unpadded, from a two-reader backup", async () => {
  const work = tempDir('sql-mode-');
  const credentials = join(work, 'db.yaml');
  writeFileSync(credentials, credentialsYaml({ host: server.host, port: server.port, user: server.user, password: server.password }, DATABASE), { mode: 0o600 });
  const config = writeConfig(work, { csv2BackupDir: join(work, 'git'), userDataBackupDir: join(work, 'user'), stateDir: join(work, 'state'), credentialsFile: credentials, global: ['slashed'], local: ['plain'] });
  // Two readers: each table's key ranges are looked up with its name as a `?` value.
  const r = await runCli(['--config', config, '--host-name', 'h', '--online'], { env: { SCHEMA_BACKUP_READERS: '2' } });
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.not.stringContaining('error') });
  // The host file through the stock client (whose session has the server's mode), into a database of its own.
  await admin.query('CREATE DATABASE sbt_sql_mode_restored');
  await run('mariadb', ['-h', server.host, '-P', String(server.port), '-u', server.user, 'sbt_sql_mode_restored'], { inputFile: join(work, 'git', 'h', 'slashed') });
  const [[row]] = (await admin.query('SELECT v FROM sbt_sql_mode_restored.slashed')) as unknown as [[{ v: string }]];
  expect(row.v).toBe('a\\b');
  await admin.query('INSERT INTO sbt_sql_mode_restored.slashed (id) VALUES (2)');
  const plain = await readFile(join(work, 'user', 'latest', 'plain'), 'utf8');
  expect(plain).toContain("(1,10,'ab'),");
  expect(plain).not.toContain("'ab   '");
  const [[fresh]] = (await admin.query('SELECT v FROM sbt_sql_mode_restored.slashed WHERE id = 2')) as unknown as [[{ v: string }]];
  expect(fresh.v).toBe('a\\b');
});
