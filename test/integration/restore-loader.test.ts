/**
 * The loader against a real server, where its statements race: many tables,
 * each cut into many small row pieces, over many connections at once. On
 * MariaDB 10.6+ two autocommit INSERTs that both find a staging table empty
 * (unique and foreign-key checks off) both ask for its bulk-insert table
 * lock, and the server kills one: ER_LOCK_DEADLOCK. Seen in CI one restore
 * in four; here the race gets hundreds of chances per round (without the
 * fix, every run of this test failed).
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Loader, type LoadFile } from '../../src/restore/load';
import { createTestDatabase, testCredentials, type TestDatabase } from '../helpers/db';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

const TABLES = 40;
const ROWS = 400;
let db: TestDatabase;
let files: LoadFile[];

const rowsOf = (t: number) => Array.from({ length: ROWS }, (_, i) => `(${i + 1},'t${t} row ${i + 1}')`);

beforeAll(async () => {
  db = await createTestDatabase('loader_race');
  const dir = tempDir('sbt-loader-');
  files = [];
  for (let t = 0; t < TABLES; t++) {
    const path = join(dir, `t${t}`);
    await fs.writeFile(path, [`CREATE TABLE \`t${t}\` (id INT NOT NULL PRIMARY KEY, v VARCHAR(40) NOT NULL);`, `INSERT INTO \`t${t}\` VALUES ${rowsOf(t).join(',')};`, ''].join('\n'));
    files.push({ table: `t${t}`, staging: '', path, compressed: false, withRows: true, bytes: (await fs.stat(path)).size, rowPieces: true, statementBytes: (await fs.stat(path)).size });
  }
});

afterAll(async () => {
  await db?.drop();
  cleanupTempDirs();
});

test('tables cut into 256-byte pieces over 8 connections load whole, round after round, without a deadlock', async () => {
  for (let round = 0; round < 12; round++) {
    const staged = files.map((f) => ({ ...f, staging: `s${round}_${f.table}` }));
    const loader = await Loader.open(testCredentials(db.name), db.name, { lanes: 8, pieceBytes: 256 });
    let outcome: string;
    try {
      const loaded = await loader.loadAll(staged);
      outcome = [...loaded.values()].every((l) => l.rows === ROWS) ? 'all rows' : 'rows missing';
    } catch (err) {
      outcome = String(err);
    } finally {
      await loader.close().catch(() => undefined);
    }
    expect({ round, outcome }).toEqual({ round, outcome: 'all rows' });
    const [counts] = await db.conn.query(staged.map((f) => `SELECT COUNT(*) AS n FROM \`${f.staging}\``).join(' UNION ALL '));
    expect((counts as { n: number }[]).map((c) => Number(c.n))).toEqual(staged.map(() => ROWS));
  }
}, 60_000);

test('a load cut before it starts (a signal) fails at once with the cut, and sends nothing', async () => {
  const loader = await Loader.open(testCredentials(db.name), db.name, { lanes: 2 });
  loader.destroy();
  const started = Date.now();
  await expect(loader.loadAll(files.slice(0, 3).map((f) => ({ ...f, staging: `cut_${f.table}` })))).rejects.toThrow(/loading stopped: its connections were cut/);
  expect(Date.now() - started).toBeLessThan(5000);
  const [tables] = await db.conn.query("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'cut\\_%'");
  expect(tables).toEqual([{ n: 0 }]);
});
