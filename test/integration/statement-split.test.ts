/**
 * A table whose rows do not fit one statement (the smaller of the server's
 * max_allowed_packet and the stock client's 16 MiB): split into several
 * one-line statements, each within the limit, with a warning that names the
 * table (db_upgrade reads only the first), and still exact through the stock client.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { runCli, writeConfig } from '../helpers/backup';
import { readTableRows } from '../helpers/db-upgrade-reader';
import { checksumTable, createTestDatabase, mariadbClient, rowCount, type TestDatabase } from '../helpers/db';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';
import { CLIENT_PACKET_BYTES } from '../../src/dump/tuples';

jest.setTimeout(180_000);

let source: TestDatabase;
let target: TestDatabase;

afterAll(async () => {
  await source?.drop();
  await target?.drop();
  cleanupTempDirs();
});

test('a local table of 20 MiB: several statements within the limit, a warning naming it, exact through the stock client', async () => {
  source = await createTestDatabase('split_source');
  target = await createTestDatabase('split_target');
  await source.conn.query(`CREATE TABLE big_metadata (g VARCHAR(32) NOT NULL, n INT NOT NULL, t TEXT NOT NULL, PRIMARY KEY (g, n)) CHARSET=utf8mb3;
    INSERT INTO big_metadata SELECT CONCAT('group-', seq % 9), seq, REPEAT(CONCAT('line ', seq, ' a),(b '), 330) FROM seq_1_to_4000;
    CREATE TABLE small (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO small VALUES (1, 'x');`);
  const work = tempDir('split-');
  const config = writeConfig(work, {
    csv2BackupDir: join(work, 'git'),
    userDataBackupDir: join(work, 'user'),
    stateDir: join(work, 'state'),
    credentialsFile: source.credentialsFile,
    local: ['big_metadata', 'small'],
  });
  const r = await runCli(['--config', config, '--host-name', 'h', '--online']);
  expect(r.code).toBe(0);
  // The warning names the table and what it means for db_upgrade; the small table gets none.
  expect(r.stderr).toMatch(/big_metadata/);
  expect(r.stderr).toMatch(/warn +rows split over several statements: db_upgrade reads only the first table=big_metadata in="the user-data snapshot" statements=\d/);
  expect(r.stderr).not.toMatch(/table=small/);
  const status = JSON.parse(await fs.readFile(join(work, 'state', 'status.json'), 'utf8'));
  expect(JSON.stringify(status)).toMatch(/table big_metadata: its rows in the user-data snapshot take \d+ INSERT statements/);

  const file = join(work, 'user', 'latest', 'big_metadata');
  const inserts = (await fs.readFile(file, 'utf8')).split('\n').filter((l) => l.startsWith('INSERT'));
  expect(inserts.length).toBeGreaterThanOrEqual(2);
  for (const line of inserts) expect(Buffer.byteLength(line) + 1).toBeLessThanOrEqual(CLIENT_PACKET_BYTES);
  // db_upgrade would reload only the first statement's rows: why the run warned.
  const total = await rowCount(source.conn, source.name, 'big_metadata');
  expect(readTableRows(file).length).toBeLessThan(total);

  await mariadbClient([], { database: target.name, inputFile: file });
  expect(await rowCount(target.conn, target.name, 'big_metadata')).toBe(total);
  expect(await checksumTable(target.conn, target.name, 'big_metadata')).toBe(await checksumTable(source.conn, source.name, 'big_metadata'));
});
