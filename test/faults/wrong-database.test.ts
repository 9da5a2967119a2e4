/**
 * A database that answers but is empty or the wrong one (wrong db_name, a
 * database recreated empty) is refused with a clear message and no change;
 * a table dropped on purpose still has its host file removed, named in the
 * commit.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT } from '../../src/errors';
import { createTestDatabase, credentialsYaml, testServer, type TestDatabase } from '../helpers/db';
import { createSite, STACK_TRACE, type Site } from '../helpers/faults';
import { gitLog } from '../helpers/git';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

jest.setTimeout(120_000);

let site: Site;
let empty: TestDatabase;

beforeAll(async () => {
  site = await createSite({ label: 'wrong_db', global: ['g1', 'g2', 'g3'], local: ['l1'] });
  await site.db.conn.query(
    'CREATE TABLE g1 (id INT PRIMARY KEY); CREATE TABLE g2 (id INT PRIMARY KEY); CREATE TABLE g3 (id INT PRIMARY KEY);' +
      'CREATE TABLE l1 (id INT PRIMARY KEY, v TEXT); INSERT INTO g1 VALUES (1); INSERT INTO l1 VALUES (1, "secret")',
  );
  expect((await site.run()).code).toBe(0);
  empty = await createTestDatabase('wrong_db_empty');
});

afterAll(async () => {
  await empty?.drop();
  await site?.cleanup();
  cleanupTempDirs();
});

test('an empty database (wrong db_name): exit 4 naming database and files, nothing changed, consumer running', async () => {
  const credentials = join(tempDir('sbf-wrongdb-'), 'cloudscheduler.yaml');
  writeFileSync(credentials, credentialsYaml(testServer(), empty.name), { mode: 0o600 });
  const before = await site.state();
  site.services?.clearCalls();
  const r = await site.run(['--db-config', credentials]);
  const context = `exit ${r.code}\n${r.stderr}`;
  expect({ context, code: r.code }).toEqual({ context, code: EXIT.database });
  expect(r.stderr).toContain(`database ${empty.name} (${credentials}) lacks 4 of the 4 tables that ${site.configFile} lists`);
  expect(r.stderr).not.toMatch(STACK_TRACE);
  expect(await site.state()).toEqual(before);
  // Refused before any service was touched.
  expect((await site.services?.calls())?.filter((c) => c.verb !== 'is-active')).toEqual([]);
  expect(await site.consumerRunning()).toBe(true);
});

test('the database emptied (recreated, its tables not loaded yet): refused the same way', async () => {
  const before = await site.state();
  // Its tables dropped (the consumer keeps its own connection and table, which no class lists).
  await site.db.conn.query('DROP TABLE g1, g2, g3, l1');
  const r = await site.run();
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: EXIT.database, stderr: expect.stringMatching(/lacks 4 of the 4 tables .*recreated empty/) });
  expect(await site.state()).toEqual(before);
  await site.db.conn.query(
    'CREATE TABLE g1 (id INT PRIMARY KEY); CREATE TABLE g2 (id INT PRIMARY KEY); CREATE TABLE g3 (id INT PRIMARY KEY);' +
      'CREATE TABLE l1 (id INT PRIMARY KEY, v TEXT); INSERT INTO g1 VALUES (1); INSERT INTO l1 VALUES (1, "secret")',
  );
});

test('one table dropped on purpose: its host file is removed and the commit names it', async () => {
  await site.db.conn.query('DROP TABLE g3');
  const r = await site.run();
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
  expect(Object.keys((await site.state()).hostFiles)).not.toContain('g3');
  const [last] = await gitLog(site.csv2Dir);
  expect(last?.message).toMatch(/^removed: g3$/m);
  expect(last?.files).toContain('faulthost/g3');
});
