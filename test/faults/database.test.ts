/**
 * Database faults: the server killed in the middle of a dump (a private
 * mariadbd, never the shared one), the session KILLed in the middle of a
 * table, the server unreachable at start, wrong credentials. Each: exit 4
 * naming the cause, the previous backup untouched, nothing half-written
 * looking complete, the consumer running, the next run fine.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { startPrivateServer, type PrivateServer } from '../../scripts/lib/mariadb-server';
import { freePort } from '../../scripts/lib/free-port';
import { EXIT } from '../../src/errors';
import { credentialsYaml, testServer } from '../helpers/db';
import { createSite, hostDirProblems, incompleteSnapshots, STACK_TRACE, type CliProcess, type CliResult, type Site } from '../helpers/faults';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

jest.setTimeout(180_000);

const BIG_ROWS = 300_000;
let faults = 0;

afterAll(() => {
  cleanupTempDirs();
  // eslint-disable-next-line no-console
  console.log(`database faults injected: ${faults}`);
});

/** The largest file being written under `dir` (temporary files of a run in progress), in bytes. */
function largestTempFile(dir: string): number {
  let max = 0;
  const walk = (d: string) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (d.endsWith(join('.schema_backup', 'tmp'))) {
        try {
          max = Math.max(max, statSync(p).size);
        } catch {
          // renamed or removed meanwhile
        }
      }
    }
  };
  walk(dir);
  return max;
}

/** Waits until a temporary file under `dir` holds more than `bytes` (the dump is under way), or the run ends. */
async function untilDumping(run: CliProcess, dir: string, bytes = 1 << 20): Promise<void> {
  let ended = false;
  void run.result.then(() => (ended = true));
  const deadline = Date.now() + 60_000;
  while (!ended && Date.now() < deadline) {
    if (largestTempFile(dir) > bytes) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`the dump never got under way (or finished before it was seen):\n${run.stderr()}`);
}

function expectDatabaseFailure(r: CliResult, message: RegExp, manifest?: string): void {
  let published = '';
  try {
    if (manifest) published = JSON.stringify((JSON.parse(readFileSync(manifest, 'utf8')) as { tables: unknown[] }).tables);
  } catch {
    published = '';
  }
  const context = `exit ${r.code}\n${r.stderr}\n${published}`;
  expect({ context, code: r.code }).toEqual({ context, code: EXIT.database });
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(STACK_TRACE);
}

async function expectUntouched(site: Site, before: Awaited<ReturnType<Site['state']>>): Promise<void> {
  expect(await site.state()).toEqual(before);
  expect(incompleteSnapshots(site.userDir)).toEqual([]);
  expect(hostDirProblems(site.hostDir)).toEqual([]);
  if (existsSync(site.userDir)) expect(readdirSync(site.userDir).filter((n) => n.endsWith('.partial'))).toEqual([]);
  expect(await site.consumerRunning()).toBe(true);
}

async function expectNextRunSucceeds(site: Site, before: Awaited<ReturnType<Site['state']>>): Promise<void> {
  const r = await site.run();
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
  const after = await site.state();
  expect(after.head).not.toBe(before.head);
  expect(hostDirProblems(site.hostDir)).toEqual([]);
  expect(incompleteSnapshots(site.userDir)).toEqual([]);
  expect(await site.consumerRunning()).toBe(true);
}

describe('the private server is killed (SIGKILL) in the middle of a dump', () => {
  let server: PrivateServer;
  let site: Site;
  let conn: Connection;
  beforeAll(async () => {
    server = await startPrivateServer();
    conn = await createConnection({ host: server.host, port: server.port, user: 'root', password: '', multipleStatements: true });
    await conn.query(
      'CREATE DATABASE faultdb; USE faultdb; CREATE TABLE g (id INT PRIMARY KEY, v TEXT) ENGINE=InnoDB; INSERT INTO g VALUES (1, "a");' +
        'CREATE TABLE big (id INT PRIMARY KEY, v VARCHAR(100)) ENGINE=InnoDB; INSERT INTO big VALUES (1, "b")',
    );
    const credentials = join(tempDir('sbf-private-cred-'), 'database.yml');
    writeFileSync(credentials, credentialsYaml({ host: server.host, port: server.port, user: 'root', password: '' }, 'faultdb'), { mode: 0o600 });
    site = await createSite({ label: 'db_private', global: ['g'], local: ['big'], credentialsFile: credentials });
    expect((await site.run()).code).toBe(0);
  });
  afterAll(async () => {
    await conn?.end().catch(() => undefined);
    await site?.cleanup();
    await server?.stop();
  });

  test('exit 4, previous backup intact, consumer running; after a restart of the server the next run succeeds', async () => {
    faults++;
    await conn.query(`UPDATE g SET v = 'changed'; INSERT INTO big SELECT seq + 1, REPEAT('x', 80) FROM seq_1_to_${BIG_ROWS}`);
    const before = await site.state();
    const running = site.start();
    await untilDumping(running, site.userDir);
    await server.kill('SIGKILL');
    const r = await running.result;
    expectDatabaseFailure(r, /PROTOCOL_CONNECTION_LOST|ECONNRESET|Connection lost|closed|server/i, join(site.userDir, 'latest', '.schema_backup', 'manifest.json'));
    await expectUntouched(site, before);
    await conn.end().catch(() => undefined);
    await server.restart();
    conn = await createConnection({ host: server.host, port: server.port, user: 'root', password: '', database: 'faultdb' });
    await expectNextRunSucceeds(site, before);
    const latest = JSON.parse(readFileSync(join(site.userDir, 'latest', '.schema_backup', 'manifest.json'), 'utf8'));
    expect(latest.tables.find((t: { table: string }) => t.table === 'big').rows).toBe(BIG_ROWS + 1);
  });
});

describe('on the shared server', () => {
  let site: Site;
  beforeAll(async () => {
    site = await createSite({ label: 'db_faults', global: ['g', 'big'] });
    await site.db.conn.query(
      'CREATE TABLE g (id INT PRIMARY KEY, v TEXT) ENGINE=InnoDB; INSERT INTO g VALUES (1, "a");' +
        'CREATE TABLE big (id INT PRIMARY KEY, v VARCHAR(100)) ENGINE=InnoDB; INSERT INTO big VALUES (1, "b")',
    );
    expect((await site.run()).code).toBe(0);
  });
  afterAll(async () => {
    await site.cleanup();
  });

  test('the session is KILLed in the middle of a table: exit 4, nothing published', async () => {
    faults++;
    await site.db.conn.query(`UPDATE g SET v = 'changed'; INSERT INTO big SELECT seq + 1, REPEAT('y', 60) FROM seq_1_to_${BIG_ROWS}`);
    const before = await site.state();
    const admin = await createConnection(testServer());
    try {
      const running = site.start();
      await untilDumping(running, site.hostDir);
      const [sessions] = await admin.query<RowDataPacket[]>(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE 'SELECT%' AND INFO LIKE '%`big`%' AND ID <> CONNECTION_ID()",
        [site.db.name],
      );
      expect(sessions.length).toBe(1);
      await admin.query(`KILL ${Number(sessions[0]?.ID)}`);
      const r = await running.result;
      expectDatabaseFailure(r, /killed|interrupted|PROTOCOL_CONNECTION_LOST|Connection lost/i, join(site.hostDir, '.schema_backup', 'manifest.json'));
    } finally {
      await admin.end();
    }
    await expectUntouched(site, before);
    await expectNextRunSucceeds(site, before);
  });

  test('the database is unreachable at start: exit 4 naming the address, no service touched', async () => {
    faults++;
    await site.db.conn.query("UPDATE g SET v = 'unreachable'");
    const port = await freePort();
    const credentials = join(tempDir('sbf-unreachable-'), 'database.yml');
    writeFileSync(credentials, credentialsYaml({ ...testServer(), port }, site.db.name), { mode: 0o600 });
    const before = await site.state();
    site.services?.clearCalls();
    const r = await site.run(['--db-config', credentials]);
    expectDatabaseFailure(r, new RegExp(`cannot connect to 127\\.0\\.0\\.1:${port}.*ECONNREFUSED`));
    expect((await site.services?.calls())?.filter((c) => c.verb !== 'is-active')).toEqual([]);
    await expectUntouched(site, before);
    await expectNextRunSucceeds(site, before);
  });

  test('wrong credentials: exit 4 naming the user and the server\'s error (its name from mysql2\'s table, built at first use in the bundle), the wrong password never shown, no service touched', async () => {
    faults++;
    await site.db.conn.query("UPDATE g SET v = 'wrong credentials'");
    const password = `Wr0ng-needle-${Date.now()}`;
    const credentials = join(tempDir('sbf-wrongpw-'), 'database.yml');
    writeFileSync(credentials, credentialsYaml({ ...testServer(), password }, site.db.name), { mode: 0o600 });
    const before = await site.state();
    site.services?.clearCalls();
    const r = await site.run(['--db-config', credentials, '--log-level', 'debug']);
    expectDatabaseFailure(r, /ER_ACCESS_DENIED_ERROR: Access denied for user 'root'/);
    expect(r.stderr + r.stdout).not.toContain(password);
    expect((await site.services?.calls())?.filter((c) => c.verb !== 'is-active')).toEqual([]);
    await expectUntouched(site, before);
    await expectNextRunSucceeds(site, before);
  });
});
