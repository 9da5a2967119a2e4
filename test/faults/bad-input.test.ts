/**
 * Bad input at the CLI: every file of the bad-config corpus, and random
 * invalid YAML documents, run as the real binary. Contract: exit 3, a message
 * naming the file, no stack trace, and nothing touched (no directory created,
 * no systemctl call, no database created).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { createConnection, type RowDataPacket } from 'mysql2/promise';
import { installRoot } from '../../src/config/paths';
import { DEFAULT_CSV2_BACKUP_SUBDIR, DEFAULT_STATE_DIR } from '../../src/config/defaults';
import { EXIT } from '../../src/errors';
import { credentialsYaml, testDatabaseName, testServer } from '../helpers/db';
import { createFakeServices, type FakeServices } from '../helpers/fake-services';
import { pool, runCli, STACK_TRACE, type CliResult } from '../helpers/faults';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';
import { prng } from '../helpers/prng';

jest.setTimeout(180_000);

const FIXTURES = join(__dirname, '..', 'fixtures', 'bad-config');
const fixtures = readdirSync(FIXTURES).sort();
const DEFAULT_CSV2_DIR = join(installRoot(), DEFAULT_CSV2_BACKUP_SUBDIR);
/** In a checkout the default csv2_backup_dir exists (it holds a README): a run that got through would add HOST/ or .git to it. */
const defaultDirState = () => ({
  csv2BackupDir: existsSync(DEFAULT_CSV2_DIR) ? readdirSync(DEFAULT_CSV2_DIR).sort() : null,
  stateDir: existsSync(DEFAULT_STATE_DIR),
});

let services: FakeServices;
let credentials: string;
/** A database that must still not exist after every run. */
let neverDb: string;
const defaultDirsBefore = defaultDirState();

async function databaseExists(name: string): Promise<boolean> {
  const conn = await createConnection(testServer());
  try {
    const [rows] = await conn.query<RowDataPacket[]>('SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [name]);
    return rows.length > 0;
  } finally {
    await conn.end();
  }
}

beforeAll(() => {
  services = createFakeServices({ 'csv2-consumer': 'sleep 1000' });
  neverDb = testDatabaseName('never_created');
  const dir = tempDir('sbf-badinput-cred-');
  credentials = join(dir, 'database.yml');
  writeFileSync(credentials, credentialsYaml(testServer(), neverDb), { mode: 0o600 });
});

afterAll(async () => {
  await services.cleanup();
  cleanupTempDirs();
});

/** Runs the CLI on `config` from an empty working directory; asserts the contract. */
async function expectRefused(config: string, label: string): Promise<CliResult> {
  const cwd = tempDir('sbf-badinput-cwd-');
  const result = await runCli(['--config', config, '--db-config', credentials, '--host-name', 'faulthost'], { cwd, env: services.env });
  const context = `${label}: exit ${result.code}\n${result.stderr}`;
  expect({ context, code: result.code }).toEqual({ context, code: EXIT.config });
  expect(result.stderr).toContain(config);
  expect(result.stderr).toMatch(/invalid configuration/);
  expect(result.stderr).not.toMatch(STACK_TRACE);
  expect(result.stdout).toBe('');
  expect(readdirSync(cwd)).toEqual([]);
  return result;
}

test(`all ${fixtures.length} files of the bad-config corpus are refused at the CLI, touching nothing`, async () => {
  expect(fixtures.length).toBeGreaterThanOrEqual(45);
  await pool(fixtures, 4, (name) => expectRefused(join(FIXTURES, name), name));
  expect(await services.calls()).toEqual([]);
  expect(await databaseExists(neverDb)).toBe(false);
  expect(defaultDirState()).toEqual(defaultDirsBefore);
});


/** Each makes the document invalid on its own (an error, not a warning). */
const POISONS: ((doc: Record<string, unknown>, pick: <T>(xs: readonly T[]) => T) => void)[] = [
  (d, p) => (d.pause_interval = p([-1, 'soon', [1], { s: 1 }, '.inf'])),
  (d, p) => (d.schedule = p(['61 * * * *', 5, ['0 3 * * *'], '* *', 'every day'])),
  (d, p) => (d.user_data_compress = p(['zip', 7, ['gzip']])),
  (d, p) => (d.global = p(['csv2_user', { csv2_user: 1 }, 12])),
  (d, p) => (d.local = [...((d.local as string[]) ?? []), p(['a`b', '../etc/passwd', 'x'.repeat(65), 'a/b', "it's", 'tab\there', 'nul\0x', '', 'trailing '])]),
  (d, p) => (d.ignore = [p([123, null, true, ['nested'], { k: 'v' }])]),
  (d, p) => (d.consumers = [p(['csv2 main', '-rf', 'a;b', '', 'x/y'])]),
  (d, p) => (d.systemctl_timeout = p([0, -5, 'fast'])),
  (d, p) => (d.verify_after_backup = p(['maybe', 2, ['x']])),
  (d, p) => (d.user_data_retention = p([{ keep: 0 }, { days: -1 }, 'forever', [1]])),
  (d, p) => (d.csv2_backup_dir = p([42, ['a', 'b'], { x: 1 }])),
  (d, p) => (d.state_dir = p([['x'], 7, 'a\0b'])),
  (d, p) => (d.providers = p(['mariadb', 3, { m: 1 }])),
];

const NOISE_TABLES = ['csv2_user', 'csv2_groups', 'condor_jobs', 'ec2_images', 'Über_tabelle', 'select', 'with space', '表'];

function randomInvalidDocument(rnd: () => number, root: string): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const doc: Record<string, unknown> = {
    csv2_backup_dir: join(root, 'csv2'),
    user_data_backup_dir: join(root, 'user'),
    state_dir: join(root, 'state'),
    consumers: ['csv2-consumer'],
    pause_interval: Math.floor(rnd() * 3),
  };
  for (const cls of ['global', 'local', 'ephemeral', 'ignore']) {
    if (rnd() < 0.6) doc[cls] = NOISE_TABLES.filter(() => rnd() < 0.3);
  }
  const poisons = 1 + Math.floor(rnd() * 3);
  for (let i = 0; i < poisons; i++) pick(POISONS)(doc, pick);
  let text = dump(doc, { noRefs: true, sortKeys: rnd() < 0.5 });
  // Sometimes a syntax error on top.
  if (rnd() < 0.25) text += pick(['\n  bad indent: [', '\nglobal: [unclosed\n', '\n"unterminated\n', '\n\t- tab\n']);
  return text;
}

test('30 random invalid YAML documents are refused at the CLI with the same contract', async () => {
  const rnd = prng(Number(process.env.FUZZ_SEED ?? 0xfa017));
  const root = tempDir('sbf-fuzz-');
  const docs = Array.from({ length: 30 }, (_, i) => {
    const file = join(root, `fuzz-${i}.conf`);
    writeFileSync(file, randomInvalidDocument(rnd, root));
    return file;
  });
  await pool(docs, 4, (file) => expectRefused(file, `${file}:\n${readFileSync(file, 'utf8')}`));
  // Only the documents themselves: no csv2, user or state directory was created.
  expect(readdirSync(root).sort()).toEqual(docs.map((d) => d.slice(root.length + 1)).sort());
  expect(await services.calls()).toEqual([]);
  expect(await databaseExists(neverDb)).toBe(false);
});
