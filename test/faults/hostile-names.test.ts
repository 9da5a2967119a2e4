/**
 * Hostile table names that exist in the database: backed up, restored with
 * the stock client into a fresh database (CHECKSUM TABLE compared), and never
 * used as paths that leave the backup directories. Plus quoteIdent, the one
 * function through which identifiers reach SQL, and a check that no other
 * source file quotes an interpolated identifier by hand.
 */
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { quoteIdent } from '../../src/db/quote';
import { checksumTable, createTestDatabase, mariadbClient, rowCount, type TestDatabase } from '../helpers/db';
import { createSite, listFiles, type Site } from '../helpers/faults';
import { cleanupTempDirs } from '../helpers/tmp';

jest.setTimeout(120_000);

/** Cannot be listed in schema_backup.conf: unclassified, structure only. */
const UNLISTABLE = ['we`ird', "it's", 'dq"x', '../x', 'a/b', '.hidden', 'back\\slash', '..', '@at'];
/** Can be listed: saved with their rows. */
const GLOBAL = ['has space', 'ünïcødé_表', 'select', 'x'.repeat(64), '表'.repeat(40), 'Mixed Case', '-dash', '1starts_with_digit'];
const LOCAL = ['local table', 'ümlaut_local'];
const ALL = [...UNLISTABLE, ...GLOBAL, ...LOCAL];

describe('quoteIdent', () => {
  test.each(ALL.map((n) => [n]))('quotes %j so that the server reads exactly that name', async (name) => {
    expect(quoteIdent(name)).toBe('`' + name.split('`').join('``') + '`');
  });
  test('refuses what cannot be an identifier', () => {
    expect(() => quoteIdent('')).toThrow(/empty/);
    expect(() => quoteIdent('a\0b')).toThrow(/NUL/);
  });
  test('an injection attempt stays one identifier', () => {
    expect(quoteIdent('x` ; DROP TABLE t; --')).toBe('`x`` ; DROP TABLE t; --`');
  });
});

test('no source file but src/db/quote.ts puts backticks around an interpolated identifier', () => {
  const root = resolve(__dirname, '..', '..', 'src');
  const offenders: string[] = [];
  const sql = /\b(SELECT|FROM|INTO|TABLE|TABLES|LOCK|SHOW|CREATE|DROP|ALTER|WHERE|ORDER BY|TRIGGER|VIEW|UPDATE|DELETE|DATABASE|USE)\b/;
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith(join('db', 'quote.ts'))) {
        readFileSync(p, 'utf8')
          .split('\n')
          .forEach((line, i) => {
            const byHand = /\\`\$\{/.test(line) || /['"]`['"]\s*\+/.test(line) || /\+\s*['"]`['"]/.test(line);
            if (byHand && sql.test(line)) offenders.push(`${p}:${i + 1}: ${line.trim()}`);
          });
      }
    }
  };
  walk(root);
  expect(offenders).toEqual([]);
});

describe('a database of hostile table names', () => {
  let site: Site;
  let restored: TestDatabase;

  beforeAll(async () => {
    site = await createSite({ label: 'hostile', global: GLOBAL, local: LOCAL, consumer: false });
    for (const [i, name] of ALL.entries()) {
      await site.db.conn.query(`CREATE TABLE ${quoteIdent(name)} (id INT PRIMARY KEY, ${quoteIdent('col `' + i)} VARCHAR(100)) ENGINE=InnoDB`);
      await site.db.conn.query(`INSERT INTO ${quoteIdent(name)} VALUES (1, ?), (2, ?), (3, NULL)`, [name, "quote ' back ` semi ; nl \n end"]);
    }
    restored = await createTestDatabase('hostile_restored');
  });
  afterAll(async () => {
    await restored?.drop();
    await site?.cleanup();
    cleanupTempDirs();
  });

  test('backed up, restored with the mariadb client, checksums equal; unlisted names structure only; no path escapes', async () => {
    const r = await site.run(['--online']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });

    // Every file created lies inside the expected directories.
    const root = realpathSync(site.root);
    expect(readdirSync(site.root).sort()).toEqual(['csv2', 'schema_backup.conf', 'state', 'user']);
    expect(readdirSync(site.csv2Dir).sort()).toEqual(['.git', '.gitattributes', 'faulthost']);
    for (const rel of listFiles(site.root)) {
      const full = resolve(root, rel);
      const inside = [join(root, 'csv2', '.gitattributes'), join(root, 'csv2', 'faulthost') + sep, join(root, 'user') + sep, join(root, 'schema_backup.conf'), join(root, 'state') + sep];
      expect({ rel, inside: inside.some((d) => full === d || full.startsWith(d)) }).toEqual({ rel, inside: true });
      expect(rel.split(sep)).not.toContain('..');
    }
    const hostTop = readdirSync(site.hostDir).filter((n) => n !== '.schema_backup');
    expect(hostTop).toHaveLength(ALL.length);
    for (const n of hostTop) expect(n.startsWith('.')).toBe(false);

    const manifest = JSON.parse(readFileSync(join(site.hostDir, '.schema_backup', 'manifest.json'), 'utf8')) as {
      tables: { table: string; file: string; class: string; rowsSaved: boolean }[];
    };
    const byTable = new Map(manifest.tables.map((t) => [t.table, t]));
    for (const name of UNLISTABLE) expect(byTable.get(name)).toMatchObject({ class: 'unclassified', rowsSaved: false });
    for (const name of GLOBAL) expect(byTable.get(name)).toMatchObject({ class: 'global', rowsSaved: true });
    for (const name of LOCAL) expect(byTable.get(name)).toMatchObject({ class: 'local', rowsSaved: false });
    const user = JSON.parse(readFileSync(join(site.userDir, 'latest', '.schema_backup', 'manifest.json'), 'utf8')) as { tables: { table: string; file: string }[] };
    expect(user.tables.map((t) => t.table).sort()).toEqual([...LOCAL].sort());

    // Restore: host files first, then the user-data files over them.
    for (const t of manifest.tables) await mariadbClient([], { database: restored.name, inputFile: join(site.hostDir, t.file) });
    for (const t of user.tables) await mariadbClient([], { database: restored.name, inputFile: join(site.userDir, 'latest', t.file) });

    const [tables] = await restored.conn.query<RowDataPacket[]>('SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [restored.name]);
    expect(tables.map((t) => t.n as string).sort()).toEqual([...ALL].sort());
    for (const name of [...GLOBAL, ...LOCAL]) {
      expect({ name, sum: await checksumTable(restored.conn, restored.name, name) }).toEqual({ name, sum: await checksumTable(site.db.conn, site.db.name, name) });
      expect(await rowCount(restored.conn, restored.name, name)).toBe(3);
    }
    for (const name of UNLISTABLE) {
      expect({ name, rows: await rowCount(restored.conn, restored.name, name) }).toEqual({ name, rows: 0 });
      const create = async (db: TestDatabase | Site['db']) => ((await db.conn.query<RowDataPacket[]>(`SHOW CREATE TABLE ${quoteIdent(name)}`))[0][0] as RowDataPacket)['Create Table'];
      expect(await create(restored)).toBe(await create(site.db));
    }
  });
});
