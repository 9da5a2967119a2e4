/** Where the benchmark runs: a private server (or a given one), its databases, credentials files and configs. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createConnection, type Connection } from 'mysql2/promise';
import type { DbCredentials } from '../src/config/types';
import { quoteIdent } from '../src/db/quote';

export interface BenchDb {
  name: string;
  /** CSV2 YAML for schema_backup (0600). */
  credentialsFile: string;
  /** [client] option file for mariadb-dump / mariadb (0600); the database goes on the command line. */
  clientFile: string;
  credentials: DbCredentials;
}

export function adminConnection(creds: DbCredentials): Promise<Connection> {
  return createConnection({
    ...(creds.socketPath ? { socketPath: creds.socketPath } : { host: creds.host, port: creds.port }),
    user: creds.user,
    password: creds.password,
    charset: 'utf8mb4',
    multipleStatements: false,
  });
}

const yamlString = (v: string) => JSON.stringify(v);
const optionValue = (v: string) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** Creates (fresh) database `name` and its two credentials files under `dir`. */
export async function benchDatabase(admin: Connection, base: DbCredentials, name: string, dir: string): Promise<BenchDb> {
  await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`);
  await admin.query(`CREATE DATABASE ${quoteIdent(name)} CHARACTER SET utf8mb4`);
  return credentialFiles(base, name, dir, name);
}

/** The 0600 credentials files of both tools for `database`, connecting as `base` says (TCP, or the socket). */
export async function credentialFiles(base: DbCredentials, database: string, dir: string, fileStem: string): Promise<BenchDb> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const credentials: DbCredentials = { ...base, database };
  const credentialsFile = join(dir, `${fileStem}.yaml`);
  await writeFile(
    credentialsFile,
    [
      'database:',
      ...(base.socketPath ? [`  db_socket: ${yamlString(base.socketPath)}`] : [`  db_host: ${yamlString(base.host)}`, `  db_port: ${base.port}`]),
      `  db_user: ${yamlString(base.user)}`,
      `  db_password: ${yamlString(base.password)}`,
      `  db_name: ${yamlString(database)}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const clientFile = join(dir, `${fileStem}.cnf`);
  await writeFile(
    clientFile,
    [
      '[client]',
      ...(base.socketPath ? [`socket=${optionValue(base.socketPath)}`] : [`host=${optionValue(base.host)}`, `port=${base.port}`]),
      `user=${optionValue(base.user)}`,
      `password=${optionValue(base.password)}`,
      'default-character-set=utf8mb4',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return { name: database, credentialsFile, clientFile, credentials };
}

/** Runs a data set's statements, then lets the server settle before anything is measured. */
export async function runSql(admin: Connection, database: string, statements: string[]): Promise<void> {
  await admin.query(`USE ${quoteIdent(database)}`);
  for (const sql of statements) await admin.query(sql);
  await settle(admin);
}

/**
 * Waits until InnoDB has written back the pages a data set dirtied: otherwise the first
 * cases are measured while the server flushes hundreds of MB in the background.
 */
export async function settle(admin: Connection, timeoutMs = 180_000): Promise<void> {
  const dirty = async () => Number(((await admin.query("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'"))[0] as { Value: string }[])[0]?.Value ?? 0);
  const [[{ pct }]] = (await admin.query('SELECT @@GLOBAL.innodb_max_dirty_pages_pct AS pct')) as unknown as [[{ pct: number }]];
  await admin.query('SET GLOBAL innodb_max_dirty_pages_pct = 0');
  try {
    const deadline = Date.now() + timeoutMs;
    while ((await dirty()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
  } finally {
    await admin.query(`SET GLOBAL innodb_max_dirty_pages_pct = ${Number(pct)}`);
  }
}

export interface ConfigSpec {
  root: string;
  db: BenchDb;
  global?: string[];
  local?: string[];
  ephemeral?: string[];
  consumers?: string[];
  pauseInterval?: number;
}

/** A fresh schema_backup.conf with its own backup directories under `root`. */
export async function writeBenchConfig(spec: ConfigSpec): Promise<{ file: string; csv2Dir: string; userDir: string }> {
  const csv2Dir = join(spec.root, 'csv2');
  const userDir = join(spec.root, 'user_data');
  await mkdir(spec.root, { recursive: true });
  const list = (names: string[] | undefined) => `[${(names ?? []).map(yamlString).join(', ')}]`;
  const file = join(spec.root, 'schema_backup.conf');
  await writeFile(
    file,
    [
      `csv2_backup_dir: ${yamlString(csv2Dir)}`,
      `user_data_backup_dir: ${yamlString(userDir)}`,
      `state_dir: ${yamlString(join(spec.root, 'state'))}`,
      `db_config: ${yamlString(spec.db.credentialsFile)}`,
      `global: ${list(spec.global)}`,
      `local: ${list(spec.local)}`,
      `ephemeral: ${list(spec.ephemeral)}`,
      'ignore: []',
      `consumers: ${list(spec.consumers)}`,
      'providers: []',
      `pause_interval: ${spec.pauseInterval ?? 0}`,
      '',
    ].join('\n'),
  );
  return { file, csv2Dir, userDir };
}
