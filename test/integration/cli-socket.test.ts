/**
 * CSV2's own credentials, as CSV2 ships them: `db_host: "localhost"`, a quoted
 * port, no db_socket, an account that exists only `@'localhost'`. On the shared
 * server (skip-name-resolve) TCP is refused for that account; the CLI must find
 * the socket as the mysql client does (here from /etc/mysql/my.cnf or the
 * platform default) and back up.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, promises as fs, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { createTestDatabase, quoteIdent, testServer, type TestDatabase } from '../helpers/db';
import { runCli, writeConfig } from '../helpers/backup';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

let db: TestDatabase;
// Unique, so no other account (say a 'csv2'@'%' on a shared server) can let TCP in and hide the bug.
const user = `csv2_${randomBytes(4).toString('hex')}`;
const password = randomBytes(12).toString('hex');

beforeAll(async () => {
  db = await createTestDatabase('socket');
  await db.conn.query("CREATE TABLE cfg (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO cfg VALUES (1, 'one'), (2, 'two')");
  await db.conn.query(`CREATE USER ${quoteString(user)}@'localhost' IDENTIFIED BY ${quoteString(password)}`);
  await db.conn.query(`GRANT ALL PRIVILEGES ON ${quoteIdent(db.name)}.* TO ${quoteString(user)}@'localhost'`);
});

afterAll(async () => {
  await db?.conn.query(`DROP USER IF EXISTS ${quoteString(user)}@'localhost'`);
  await db?.drop();
  cleanupTempDirs();
});

function quoteString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** cloudscheduler.yaml as CSV2 writes it, with sections CSV2 alone reads (one using an anchor and a merge key, as PyYAML allows). */
function csv2Credentials(dir: string, mode: number): string {
  const file = join(dir, 'cloudscheduler.yaml');
  writeFileSync(
    file,
    [
      'database:',
      '  db_host: "localhost"',
      `  db_name: "${db.name}"`,
      `  db_password: "${password}"`,
      '  db_port: "3306"',
      `  db_user: "${user}"`,
      'signals: &signals',
      '  host: "localhost"',
      '  port: 8080',
      'influx:',
      '  <<: *signals',
      '  db_host: "influx.example.org"',
      '  db_port: 8086',
      '  db_user: "metrics"',
      'general:',
      '  log_level: 20',
      '',
    ].join('\n'),
  );
  chmodSync(file, mode);
  return file;
}

function setup(mode: number) {
  const work = tempDir('cli-socket-');
  // An empty HOME: the developer's own ~/.my.cnf must not decide the socket.
  const home = tempDir('cli-socket-home-');
  const credentialsFile = csv2Credentials(work, mode);
  const config = writeConfig(work, { csv2BackupDir: join(work, 'git'), stateDir: join(work, 'state'), credentialsFile, global: ['cfg'] });
  return { work, config, credentialsFile, env: { HOME: home } };
}

test("the account is 'localhost' only: over TCP the server refuses it (so the next test proves the socket)", async () => {
  const { host, port } = testServer();
  await expect(createConnection({ host, port, user, password, database: db.name })).rejects.toMatchObject({ code: expect.stringMatching(/^ER_ACCESS_DENIED/) });
});

test('a CSV2 cloudscheduler.yaml with db_host "localhost" and no db_socket backs up over the socket', async () => {
  const { work, config, env } = setup(0o600);
  const r = await runCli(['--config', config, '--host-name', 'h', '--online', '--log-level', 'debug'], { env });
  expect(r.stderr).toMatch(/database server at="socket \/\S+ \((socket from \[client[^\]]*\] in \S+|platform default socket)\)"/);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/global 1 \(2 rows\)/);
  expect(await fs.readFile(join(work, 'git', 'h', 'cfg'), 'utf8')).toContain("(2,'two')");
  expect(r.stderr).not.toContain('credentials warning');
});

test('a credentials file others can read: a warning with the chmod to run, and the backup goes on', async () => {
  const { config, credentialsFile, env } = setup(0o644);
  const r = await runCli(['--config', config, '--host-name', 'h', '--online'], { env });
  expect(r.code).toBe(0);
  expect(r.stderr).toContain('credentials warning');
  expect(r.stderr).toContain(`${credentialsFile}: readable by its group and all users (mode 0644)`);
  expect(r.stderr).toContain(`chmod go-rwx ${credentialsFile}`);
  expect(r.stderr).not.toContain(password);
});
