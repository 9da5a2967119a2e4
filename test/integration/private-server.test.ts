/**
 * The tooling other tests stand on: a throwaway mariadbd that survives
 * SIGKILL with its InnoDB data, per-test databases on the shared server, the
 * stock client, temp dirs and git repos.
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { simpleGit } from 'simple-git';
import { startPrivateServer, waitForServer, type PrivateServer } from '../../scripts/lib/mariadb-server';
import { freePort } from '../../scripts/lib/free-port';
import { checksumTable, createTestDatabase, mariadbClient, rowCount, testServer, type TestDatabase } from '../helpers/db';
import { GIT_ALLOW_ENVIRONMENT, gitHead, gitLog, initRepo } from '../helpers/git';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

jest.setTimeout(120_000);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function connect(s: PrivateServer): Promise<Connection> {
  return createConnection({ host: s.host, port: s.port, user: s.user, password: s.password, multipleStatements: true });
}

describe('private MariaDB server', () => {
  let server: PrivateServer | undefined;

  afterEach(async () => {
    if (!server) return;
    await server.stop();
    await rm(server.baseDir, { recursive: true, force: true }); // for servers started with keep
    server = undefined;
  });

  it('keeps committed InnoDB rows across SIGKILL and restart, and stop() removes its directory', async () => {
    server = await startPrivateServer();
    const s = server;
    expect(s.port).toBeGreaterThan(0);
    expect(s.port).not.toBe(3306);
    expect(existsSync(s.socket)).toBe(true);

    let conn = await connect(s);
    const [[info]] = await conn.query<RowDataPacket[]>('SELECT @@datadir AS datadir, @@port AS port, CURRENT_USER() AS who');
    expect(info.datadir.replace(/\/$/, '')).toBe(s.datadir);
    expect(info.port).toBe(s.port);
    expect(info.who).toBe('root@127.0.0.1');
    await conn.query(
      'CREATE DATABASE demo; CREATE TABLE demo.t (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB;' +
        "INSERT INTO demo.t VALUES (1,'one'),(2,'two'),(3,'three');",
    );
    await conn.end();

    const firstPid = s.pid;
    await s.kill();
    expect(alive(firstPid)).toBe(false);
    await expect(waitForServer({ host: s.host, port: s.port, user: 'root', password: '' }, 300)).rejects.toThrow(
      /no MariaDB answered/,
    );

    await s.restart();
    expect(s.pid).not.toBe(firstPid);
    expect(alive(s.pid)).toBe(true);
    conn = await connect(s);
    const [rows] = await conn.query<RowDataPacket[]>('SELECT id, v FROM demo.t ORDER BY id');
    expect(rows.map((r) => [r.id, r.v])).toEqual([
      [1, 'one'],
      [2, 'two'],
      [3, 'three'],
    ]);
    await conn.end();

    const { baseDir, pid } = s;
    await s.stop();
    server = undefined;
    expect(alive(pid)).toBe(false);
    expect(existsSync(baseDir)).toBe(false);
    await s.stop(); // idempotent
  });

  it('with keep, stop() leaves the files and restart() comes back on the same port', async () => {
    server = await startPrivateServer({ keep: true, extraArgs: ['--max-connections=17'] });
    const s = server;
    let conn = await connect(s);
    const [[vars]] = await conn.query<RowDataPacket[]>('SELECT @@max_connections AS m');
    expect(vars.m).toBe(17);
    await conn.query('CREATE DATABASE kept; CREATE TABLE kept.t (id INT PRIMARY KEY); INSERT INTO kept.t VALUES (7);');
    await conn.end();

    const port = s.port;
    await s.stop();
    expect(existsSync(s.datadir)).toBe(true);
    await s.restart();
    expect(s.port).toBe(port);
    conn = await connect(s);
    const [rows] = await conn.query<RowDataPacket[]>('SELECT id FROM kept.t');
    expect(rows).toEqual([{ id: 7 }]);
    await conn.end();
  });

  it('fails with the error log when mariadbd cannot start', async () => {
    const base = tempDir('sbt-badserver');
    await expect(startPrivateServer({ baseDir: base, extraArgs: ['--no-such-option-at-all'] })).rejects.toThrow(
      /failed to start[\s\S]*no-such-option-at-all/,
    );
  });

  it('waitForServer gives up on a port nobody listens on', async () => {
    const port = await freePort();
    const started = Date.now();
    await expect(waitForServer({ host: '127.0.0.1', port, user: 'root', password: '' }, 500)).rejects.toThrow(
      /ECONNREFUSED/,
    );
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

afterAll(() => cleanupTempDirs());

describe('test database helpers (shared server)', () => {
  let db: TestDatabase | undefined;
  afterEach(async () => {
    await db?.drop();
    db = undefined;
  });

  it('creates a private database with a credentials file, and drop() removes both', async () => {
    db = await createTestDatabase('Helper Check/ä');
    const { name, conn, credentialsFile } = db;
    expect(name).toMatch(/^sbt_helper_check_[0-9a-f]{8}$/);

    const [[cur]] = await conn.query<RowDataPacket[]>('SELECT DATABASE() AS d, @@character_set_connection AS cs');
    expect(cur).toEqual({ d: name, cs: 'utf8mb4' });

    expect(statSync(credentialsFile).mode & 0o777).toBe(0o600);
    const server = testServer();
    expect(load(await readFile(credentialsFile, 'utf8'))).toEqual({
      database: { db_host: server.host, db_port: server.port, db_user: server.user, db_password: server.password, db_name: name },
    });

    await conn.query("CREATE TABLE t (id INT PRIMARY KEY, v TEXT) ENGINE=InnoDB; INSERT INTO t VALUES (1,'a'),(2,'😀');");
    expect(await rowCount(conn, name, 't')).toBe(2);
    const sum = await checksumTable(conn, name, 't');
    expect(sum).toMatch(/^[1-9][0-9]*$/);
    await conn.query("UPDATE t SET v='b' WHERE id=1");
    expect(await checksumTable(conn, name, 't')).not.toBe(sum);
    expect(await checksumTable(conn, name, 'missing')).toBeNull();

    const out = await mariadbClient(['-N', '-B', '-e', 'SELECT v FROM t ORDER BY id'], { database: name });
    expect(out.stdout).toBe('b\n😀\n');
    const dumpFile = join(tempDir('sbt-client'), 'in.sql');
    writeFileSync(dumpFile, 'INSERT INTO t VALUES (3, "c");');
    await mariadbClient([], { database: name, inputFile: dumpFile });
    await mariadbClient([name], { input: 'INSERT INTO t VALUES (4, "d");' });
    expect(await rowCount(conn, name, 't')).toBe(4);
    await expect(mariadbClient(['-e', 'SELECT * FROM no_such_table'], { database: name })).rejects.toThrow(/1146/);

    await db.drop();
    db = undefined;
    const check = await createConnection(server);
    const [dbs] = await check.query<RowDataPacket[]>('SHOW DATABASES LIKE ?', [name]);
    await check.end();
    expect(dbs).toHaveLength(0);
    expect(existsSync(credentialsFile)).toBe(false);
  });
});

describe('git and temp dir helpers', () => {
  it('initRepo makes a main-branch repo with a local identity; gitLog and gitHead read it', async () => {
    const dir = tempDir('sbt-git');
    await initRepo(dir);
    expect(await gitHead(dir)).toBeNull();
    expect(await gitLog(dir)).toEqual([]);

    const g = simpleGit({ baseDir: dir, allowEnvironment: GIT_ALLOW_ENVIRONMENT });
    writeFileSync(join(dir, 'a.sql'), 'x');
    await g.add('a.sql').commit('first');
    writeFileSync(join(dir, 'b.sql'), 'y');
    writeFileSync(join(dir, 'a.sql'), 'z');
    await g.add(['a.sql', 'b.sql']).commit('second\n\nwith body');

    const log = await gitLog(dir);
    expect(log.map((c) => [c.message, c.files])).toEqual([
      ['second\n\nwith body', ['a.sql', 'b.sql']],
      ['first', ['a.sql']],
    ]);
    expect(await gitHead(dir)).toBe(log[0].hash);
    expect(log[0].hash).toMatch(/^[0-9a-f]{40}$/);
    expect((await g.revparse(['--abbrev-ref', 'HEAD'])).trim()).toBe('main');
    // The identity comes from the repo, not from a global config.
    expect((await g.raw(['log', '-1', '--format=%an <%ae>'])).trim()).toBe(
      'schema_backup tests <tests@schema-backup.invalid>',
    );
    expect((await g.raw(['config', '--show-origin', 'user.name'])).trim()).toMatch(/^file:\.git\/config\s/);
  });

  it('cleanupTempDirs removes what tempDir created', () => {
    const a = tempDir('sbt-x');
    const b = tempDir('sbt-x');
    expect(a).not.toBe(b);
    writeFileSync(join(a, 'f'), '1');
    cleanupTempDirs();
    expect(existsSync(a)).toBe(false);
    expect(existsSync(b)).toBe(false);
  });
});
