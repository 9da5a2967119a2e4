/**
 * The shared test MariaDB: connection parameters, one private database per
 * test (created fresh, dropped after), and the stock `mariadb` client.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import type { DbCredentials } from '../../src/config/types';
import { run, type RunResult } from '../../src/proc/run';

export interface TestServer {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** The shared server; SB_TEST_HOST/PORT/USER/PASSWORD override the defaults (127.0.0.1:3306, root, empty). */
export function testServer(): TestServer {
  const env = process.env;
  return {
    host: env.SB_TEST_HOST || '127.0.0.1',
    port: env.SB_TEST_PORT ? Number(env.SB_TEST_PORT) : 3306,
    user: env.SB_TEST_USER || 'root',
    password: env.SB_TEST_PASSWORD ?? '',
  };
}

/** Credentials for `database` on the shared server, as the tool's own code takes them (TCP, no file behind them). */
export function testCredentials(database: string): DbCredentials {
  return { ...testServer(), socketPath: null, database, source: 'test' };
}

export interface TestDatabase {
  /** `sbt_<label>_<random>`, safe to use unquoted. */
  name: string;
  /** Connected to `name`; multipleStatements on, charset utf8mb4. Closed by drop(). */
  conn: Connection;
  /** CSV2-format YAML credentials file for `name` (mode 0600), removed by drop(). */
  credentialsFile: string;
  /** Drops the database, closes conn, removes the credentials file. Idempotent. */
  drop(): Promise<void>;
}

const MAX_IDENT = 64;

/** A database name unique to this call: label lower-cased, reduced to [a-z0-9_], shortened to fit. */
export function testDatabaseName(label: string): string {
  const suffix = randomBytes(4).toString('hex');
  const room = MAX_IDENT - 'sbt_'.length - 1 - suffix.length;
  const clean = label
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, room);
  return `sbt_${clean || 'db'}_${suffix}`;
}

export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const server = testServer();
  const name = testDatabaseName(label);
  const admin = await createConnection({ ...server, charset: 'utf8mb4' });
  try {
    await admin.query(`CREATE DATABASE ${quoteIdent(name)} CHARACTER SET utf8mb4`);
  } finally {
    await admin.end();
  }
  const conn = await createConnection({ ...server, database: name, multipleStatements: true, charset: 'utf8mb4' });
  const dir = await mkdtemp(join(tmpdir(), 'sbt-cred-'));
  const credentialsFile = join(dir, 'database.yml');
  await writeFile(credentialsFile, credentialsYaml(server, name), { mode: 0o600 });

  let dropped = false;
  return {
    name,
    conn,
    credentialsFile,
    async drop() {
      if (dropped) return;
      dropped = true;
      await conn.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`).catch(async () => {
        // The test may have broken its own connection; use a fresh one.
        const again = await createConnection(server);
        try {
          await again.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`);
        } finally {
          await again.end();
        }
      });
      await conn.end().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The YAML a CSV2 installation keeps its database credentials in. */
export function credentialsYaml(server: TestServer, database: string): string {
  return dump({
    database: {
      db_host: server.host,
      db_port: server.port,
      db_user: server.user,
      db_password: server.password,
      db_name: database,
    },
  });
}

/** `CHECKSUM TABLE ... EXTENDED` as a decimal string (exact beyond 2^53), or null when the table is missing. */
export async function checksumTable(conn: Connection, db: string, table: string): Promise<string | null> {
  const [rows] = await conn.query<RowDataPacket[]>({
    sql: `CHECKSUM TABLE ${quoteIdent(db)}.${quoteIdent(table)} EXTENDED`,
    supportBigNumbers: true,
    bigNumberStrings: true,
  });
  const value = rows[0]?.Checksum as string | number | null | undefined;
  return value === null || value === undefined ? null : String(value);
}

export async function rowCount(conn: Connection, db: string, table: string): Promise<number> {
  const [rows] = await conn.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${quoteIdent(db)}.${quoteIdent(table)}`);
  return Number(rows[0].n);
}

export interface ClientOptions {
  database?: string;
  /** Written to the client's stdin. */
  input?: string;
  /** Streamed to the client's stdin (e.g. a dump file). */
  inputFile?: string;
  timeoutMs?: number;
}

/**
 * Runs the stock `mariadb` client against the test server. Credentials go in
 * a 0600 option file, never on the command line. Rejects (CommandError) on a
 * non-zero exit.
 */
export async function mariadbClient(args: string[], opts: ClientOptions = {}): Promise<RunResult> {
  const dir = await mkdtemp(join(tmpdir(), 'sbt-client-'));
  const optionFile = join(dir, 'client.cnf');
  try {
    await writeFile(optionFile, clientOptionFile(testServer()), { mode: 0o600 });
    // --defaults-extra-file must be the first argument.
    const full = [`--defaults-extra-file=${optionFile}`, ...(opts.database ? [`--database=${opts.database}`] : []), ...args];
    return await run('mariadb', full, {
      input: opts.input,
      inputFile: opts.inputFile,
      timeoutMs: opts.timeoutMs ?? 120_000,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function clientOptionFile(s: TestServer): string {
  // Option-file values in double quotes take backslash escapes. utf8mb4: the client would otherwise
  // pick a charset from the locale, which is latin1 under CI.
  const quoted = (v: string): string => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  return ['[client]', `host=${s.host}`, `port=${s.port}`, `user=${quoted(s.user)}`, `password=${quoted(s.password)}`, 'default-character-set=utf8mb4', ''].join(
    '\n',
  );
}

export function quoteIdent(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}
