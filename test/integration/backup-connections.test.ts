/**
 * How many connections a backup run opens: its check of the database hands its connection to the snapshot
 * (src/backup/run.ts, openSnapshot's `spare`), so a plain one-reader run logs in once. Proven with an application
 * user the server lets connect once an hour (MAX_CONNECTIONS_PER_HOUR 1): a second login is refused by the server.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { runCli, writeConfig } from '../helpers/backup';
import { createTestDatabase, credentialsYaml, testServer, type TestDatabase } from '../helpers/db';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

let tdb: TestDatabase;
const user = `sbt_${randomBytes(4).toString('hex')}`;
const password = randomBytes(12).toString('hex');

beforeAll(async () => {
  tdb = await createTestDatabase('backup_connections');
  await tdb.conn.query("CREATE TABLE accounts (id INT PRIMARY KEY, name VARCHAR(20)); INSERT INTO accounts VALUES (1, 'a'), (2, 'b')");
  await tdb.conn.query(`CREATE USER '${user}'@'127.0.0.1' IDENTIFIED BY '${password}' WITH MAX_CONNECTIONS_PER_HOUR 1`);
  await tdb.conn.query(`GRANT SELECT, LOCK TABLES, SHOW VIEW, TRIGGER ON \`${tdb.name}\`.* TO '${user}'@'127.0.0.1'`);
});
afterAll(async () => {
  await tdb.conn.query(`DROP USER IF EXISTS '${user}'@'127.0.0.1'`);
  await tdb.drop();
  cleanupTempDirs();
});

test('a one-reader backup logs in once: the check of the database and the snapshot share one connection', async () => {
  const dir = tempDir('sbt-conns-');
  const credentialsFile = join(dir, 'db.yaml');
  await fs.writeFile(credentialsFile, credentialsYaml({ ...testServer(), host: '127.0.0.1', user, password }, tdb.name), { mode: 0o600 });
  const config = writeConfig(dir, { csv2BackupDir: join(dir, 'git'), userDataBackupDir: join(dir, 'user'), stateDir: join(dir, 'state'), credentialsFile, local: ['accounts'] });
  const run = await runCli(['--online', '--config', config, '--host-name', 'conns'], { env: { SCHEMA_BACKUP_READERS: '1' } });
  expect(run.stderr).not.toMatch(/max_connections_per_hour/);
  expect(run.code).toBe(0);
  const saved = await fs.readFile(join(dir, 'user', 'latest', 'accounts'), 'utf8');
  expect(saved).toContain("INSERT INTO `accounts` VALUES (1,'a'),(2,'b');");
  // The server's limit holds: a second login this hour is refused, so the run above could not have made one.
  const again = await runCli(['--online', '--config', config, '--host-name', 'conns']);
  expect(again.code).not.toBe(0);
  expect(again.stderr).toMatch(/max_connections_per_hour/);
});
