/**
 * The restore case of the benchmark: load backup table files into a database
 * with restore's own loader (in process, parallel connections), to be timed
 * against `mariadb DB < FILE`. The database must exist and not hold the tables.
 */
import { promises as fs } from 'node:fs';
import type { DbCredentials } from '../src/config/types';
import { Loader } from '../src/restore/load';
import { readQuotedIdent } from '../src/restore/staging';
import { backupCreateTable } from '../src/restore/verify';

export interface RestoreCaseOptions {
  credentials: DbCredentials;
  /** Backup table files (plain, or gzip when `compressed`). */
  files: string[];
  database: string;
  compressed?: boolean;
  /** Loading connections (default 3, as schema_restore). */
  parallel?: number;
}

export async function restoreBigTable(opts: RestoreCaseOptions): Promise<{ rows: number }> {
  const compressed = opts.compressed ?? false;
  const files = [];
  for (const path of opts.files) {
    // Each file loads straight under its own table name (schema_restore loads into a staging name).
    const create = (await backupCreateTable(path, compressed)) ?? '';
    const table = readQuotedIdent(create, create.indexOf('`'))?.name;
    if (!table) throw new Error(`${path}: no CREATE TABLE`);
    files.push({ table, staging: table, path, compressed, withRows: true, bytes: (await fs.stat(path)).size });
  }
  const loader = await Loader.open(opts.credentials, opts.database, opts.parallel ?? 3);
  let rows = 0;
  try {
    const loaded = await loader.loadAll(files);
    rows = [...loaded.values()].reduce((n, t) => n + t.rows, 0);
  } catch (err) {
    loader.destroy();
    throw err;
  }
  await loader.close();
  return { rows };
}
