/**
 * The peers schema_backup is measured against, each run as its users run it:
 * credentials in the 0600 option file of the bench database (mariadb-dump and
 * mariadb read `--defaults-extra-file`, mydumper/myloader 0.10 `--defaults-file`,
 * whose [client] group they read), never on the command line.
 */
import { existsSync } from 'node:fs';
import { findExecutable } from '../scripts/lib/find-executable';
import { run } from '../src/proc/run';
import { measure, measureToNull, type Sample } from './measure';
import type { BenchDb } from './setup';

/** Peer names as the report's columns show them. */
export const PEER = {
  mariadbDump: 'mariadb-dump',
  mydumper1: 'mydumper -t 1',
  mydumper2: 'mydumper -t 2 --rows 200000',
  readLimit: 'read limit: mariadb --quick',
  mariadbLoad: 'mariadb DB < dump',
  myloader2: 'myloader -t 2',
} as const;

/** mydumper's chunk size for the parallel case (the setting). */
export const MYDUMPER_CHUNK_ROWS = 200_000;

export function mariadbDump(db: BenchDb, tables: string[], out: string, scratch: string, noData = false): Promise<Sample> {
  return measure(
    'mariadb-dump',
    [`--defaults-extra-file=${db.clientFile}`, '--single-transaction', '--skip-dump-date', '--order-by-primary', ...(noData ? ['--no-data'] : []), `--result-file=${out}`, db.name, ...tables],
    scratch,
  );
}

/** mydumper with its defaults (its own consistent snapshot, statement size, schema file) apart from threads and chunks. */
export function mydumper(db: BenchDb, table: string, outDir: string, scratch: string, threads: number, chunkRows?: number): Promise<Sample> {
  return measure(
    'mydumper',
    [`--defaults-file=${db.clientFile}`, '--database', db.name, '--tables-list', table, '--outputdir', outDir, '--threads', String(threads), ...(chunkRows ? ['--rows', String(chunkRows)] : []), '--verbose', '1'],
    scratch,
  );
}

export function myloader(db: BenchDb, dumpDir: string, scratch: string, threads: number): Promise<Sample> {
  return measure('myloader', [`--defaults-file=${db.clientFile}`, '--directory', dumpDir, '--database', db.name, '--threads', String(threads), '--verbose', '1'], scratch);
}

export function mariadbLoad(db: BenchDb, dumpFile: string, scratch: string): Promise<Sample> {
  return measure('mariadb', [`--defaults-extra-file=${db.clientFile}`, db.name], scratch, { inputFile: dumpFile });
}

/** How fast one connection can read the table at all: the stock client, rows to /dev/null. */
export function readLimit(db: BenchDb, table: string, scratch: string): Promise<Sample> {
  return measureToNull('mariadb', [`--defaults-extra-file=${db.clientFile}`, '--quick', '-N', '-B', '-e', `SELECT * FROM \`${table}\``, db.name], scratch);
}

/**
 * mydumper and myloader on PATH, installed from Debian's `mydumper` package when
 * missing and running as root (as .ci/run does); otherwise says how and returns false.
 */
export async function ensureMydumper(log: (msg: string) => void): Promise<boolean> {
  const present = () => findExecutable(['mydumper']) !== null && findExecutable(['myloader']) !== null;
  if (present()) return true;
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
    log('mydumper/myloader missing: install them (Debian: sudo apt-get install mydumper); their columns stay empty');
    return false;
  }
  log('installing mydumper (apt-get install -y mydumper)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    await run('apt-get', ['update', '-q'], { env, timeoutMs: 10 * 60_000 });
    await run('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'mydumper'], { env, timeoutMs: 10 * 60_000 });
  } catch (err) {
    log(`could not install mydumper (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); its columns stay empty`);
    return false;
  }
  return present();
}
