/**
 * The restore case of the benchmark: load backup table files into a database
 * with restore's own loader (in process, parallel connections), to be timed
 * against `mariadb DB < FILE`. The database must exist and not hold the tables.
 */
import type { DbCredentials } from '../src/config/types';
import { Loader } from '../src/restore/load';

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
  const loader = await Loader.open(opts.credentials, opts.database, opts.parallel ?? 3);
  let rows = 0;
  try {
    const loaded = await Promise.all(opts.files.map((path, i) => loader.loadFile({ table: `file${i}`, path, compressed: opts.compressed ?? false, withRows: true })));
    await loader.finish();
    rows = loaded.reduce((n, t) => n + t.rows, 0);
  } catch (err) {
    loader.destroy();
    throw err;
  }
  await loader.close();
  return { rows };
}
