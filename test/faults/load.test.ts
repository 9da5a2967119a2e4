/**
 * Backups under load: while test/helpers/ledger-writer.js writes without
 * pause (transactions over three tables linked by foreign keys and two
 * invariants), 20 `--online` backups are taken and each is restored with the
 * stock client into a fresh database. Every restored backup must satisfy the
 * foreign keys and both invariants: the snapshot is consistent, the host files
 * and the user snapshot of one run come from the same instant.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { createTestDatabase, mariadbClient, type TestDatabase } from '../helpers/db';
import { createSite, type Site } from '../helpers/faults';
import { cleanupTempDirs } from '../helpers/tmp';

jest.setTimeout(240_000);

const CYCLES = Number(process.env.LOAD_CYCLES ?? 20);
const WRITER = resolve(__dirname, '..', 'helpers', 'ledger-writer.js');

let site: Site;
let restored: TestDatabase;
let writer: ChildProcess;
let writerOut = '';

beforeAll(async () => {
  site = await createSite({ label: 'load', global: ['accounts', 'ledger'], local: ['ledger_note'], consumer: false });
  await site.db.conn.query(
    'CREATE TABLE accounts (id INT AUTO_INCREMENT PRIMARY KEY, balance BIGINT NOT NULL) ENGINE=InnoDB;' +
      'CREATE TABLE ledger (id INT AUTO_INCREMENT PRIMARY KEY, account_id INT NOT NULL, amount BIGINT NOT NULL, FOREIGN KEY (account_id) REFERENCES accounts (id)) ENGINE=InnoDB;' +
      'CREATE TABLE ledger_note (id INT AUTO_INCREMENT PRIMARY KEY, ledger_id INT NOT NULL UNIQUE, note VARCHAR(40) NOT NULL, FOREIGN KEY (ledger_id) REFERENCES ledger (id)) ENGINE=InnoDB',
  );
  restored = await createTestDatabase('load_restored');
  writer = spawn(process.execPath, [WRITER], { env: { ...process.env, SB_LEDGER_DATABASE: site.db.name }, stdio: ['ignore', 'pipe', 'pipe'] });
  writer.stdout?.on('data', (d: Buffer) => (writerOut += d.toString()));
  writer.stderr?.on('data', (d: Buffer) => (writerOut += d.toString()));
  const deadline = Date.now() + 20_000;
  while (!writerOut.includes('ready') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(writerOut).toContain('ready');
});

afterAll(async () => {
  if (writer && writer.exitCode === null) {
    const exited = new Promise((r) => writer.once('exit', r));
    writer.kill('SIGTERM');
    await exited;
  }
  await restored?.drop();
  await site?.cleanup();
  cleanupTempDirs();
});

async function count(sql: string): Promise<number> {
  const [rows] = await restored.conn.query<RowDataPacket[]>(sql);
  return Number(rows[0]?.n);
}

test(`${CYCLES} online backups taken under continuous writes all restore to a consistent database`, async () => {
  let previousLedger = -1;
  const lost: string[] = [];
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    expect({ writer: writer.exitCode, writerOut }).toEqual({ writer: null, writerOut: expect.any(String) });
    const r = await site.run(['--online']);
    expect({ cycle, code: r.code, stderr: r.stderr }).toEqual({ cycle, code: 0, stderr: expect.any(String) });
    const latest = join(site.userDir, 'latest');
    await restored.conn.query('SET FOREIGN_KEY_CHECKS = 0; DROP TABLE IF EXISTS ledger_note, ledger, accounts; SET FOREIGN_KEY_CHECKS = 1');
    for (const file of [join(site.hostDir, 'accounts'), join(site.hostDir, 'ledger'), join(latest, 'ledger_note')]) {
      await mariadbClient([], { database: restored.name, inputFile: file });
    }
    const ledger = await count('SELECT COUNT(*) AS n FROM ledger');
    const problems = {
      orphanLedger: await count('SELECT COUNT(*) AS n FROM ledger l LEFT JOIN accounts a ON a.id = l.account_id WHERE a.id IS NULL'),
      orphanNotes: await count('SELECT COUNT(*) AS n FROM ledger_note n LEFT JOIN ledger l ON l.id = n.ledger_id WHERE l.id IS NULL'),
      ledgerWithoutNote: await count('SELECT COUNT(*) AS n FROM ledger l LEFT JOIN ledger_note n ON n.ledger_id = l.id WHERE n.id IS NULL'),
      unbalanced: await count('SELECT COUNT(*) AS n FROM accounts a WHERE a.balance <> (SELECT COALESCE(SUM(amount), 0) FROM ledger l WHERE l.account_id = a.id)'),
    };
    expect({ cycle, ...problems }).toEqual({ cycle, orphanLedger: 0, orphanNotes: 0, ledgerWithoutNote: 0, unbalanced: 0 });
    // The restored database also passes the server's own foreign key check.
    await restored.conn.query('SET FOREIGN_KEY_CHECKS = 1');
    if (ledger < previousLedger) lost.push(`cycle ${cycle}: ${ledger} ledger rows after ${previousLedger}`);
    previousLedger = ledger;
    // The manifest agrees with what was restored.
    const manifest = JSON.parse(readFileSync(join(site.hostDir, '.schema_backup', 'manifest.json'), 'utf8')) as { tables: { table: string; rows: number }[] };
    expect(manifest.tables.find((t) => t.table === 'ledger')?.rows).toBe(ledger);
  }
  expect(lost).toEqual([]);
  expect(previousLedger).toBeGreaterThan(0);
  expect(writer.exitCode).toBeNull(); // the writer wrote the whole time
  // eslint-disable-next-line no-console
  console.log(`load: ${CYCLES} backup/restore cycles, ${previousLedger} ledger rows in the last restored backup`);
});
