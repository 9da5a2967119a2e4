/**
 * A real consumer (test/helpers/consumer.js writing to MariaDB) run as a unit:
 * while quiesced it writes nothing, after resume it writes again.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mysql from 'mysql2/promise';
import { silentLogger } from '../../src/log';
import { createQuiescer } from '../../src/services/quiesce';
import { createSystemctl } from '../../src/services/systemctl';
import { createFakeServices, type FakeServices } from '../helpers/fake-services';

const DB = `sb_services_consumer_${process.pid}_${Date.now()}`;
const CONSUMER = resolve(__dirname, '../helpers/consumer.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let admin: mysql.Connection;
let fake: FakeServices;
let stateDir: string;

beforeAll(async () => {
  admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
  await admin.query(`CREATE DATABASE \`${DB}\``);
});

afterAll(async () => {
  await admin.query(`DROP DATABASE IF EXISTS \`${DB}\``);
  await admin.end();
});

beforeEach(() => {
  const cmd = `SB_CONSUMER_HOST=127.0.0.1 SB_CONSUMER_PORT=3306 SB_CONSUMER_USER=root SB_CONSUMER_DATABASE=${DB} exec ${process.execPath} ${CONSUMER}`;
  fake = createFakeServices({ writer: cmd });
  stateDir = mkdtempSync(join(tmpdir(), 'sb-consumer-state-'));
});

afterEach(async () => {
  await fake.cleanup();
  rmSync(stateDir, { recursive: true, force: true });
});

async function rows(): Promise<{ n: number; last: Date | null }> {
  try {
    const [r] = await admin.query(`SELECT COUNT(*) AS n, MAX(written_at) AS last FROM \`${DB}\`.consumer_writes`);
    const row = (r as { n: number; last: Date | null }[])[0] as { n: number; last: Date | null };
    return { n: Number(row.n), last: row.last };
  } catch {
    return { n: 0, last: null }; // table not created yet
  }
}

async function until(pred: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await sleep(50);
  }
}

test('no writes while quiesced; writes resume after resume()', async () => {
  await fake.start('writer');
  await until(async () => (await rows()).n >= 10, 20000);

  const q = createQuiescer({
    mode: 'default',
    consumers: ['writer'],
    providers: [],
    pauseIntervalSec: 0,
    systemctl: createSystemctl({ timeoutSec: 20, env: fake.env }),
    stateDir,
    log: silentLogger(),
    waitForDatabase: async () => undefined,
  });
  await q.quiesce();
  expect(await fake.isRunning('writer')).toBe(false);
  const atQuiesce = await rows();
  await sleep(700); // ~35 writes if it were still running
  const later = await rows();
  expect(later.n).toBe(atQuiesce.n);
  expect(later.last).toEqual(atQuiesce.last);
  // It ended on SIGTERM cleanly: nothing but its start-up line in the unit log.
  expect(readFileSync(join(fake.dir, 'logs', 'writer.log'), 'utf8')).toBe('ready\n');

  await q.resume();
  await until(async () => (await rows()).n >= atQuiesce.n + 5, 20000);
  const [r] = await admin.query(`SELECT COUNT(DISTINCT pid) AS pids FROM \`${DB}\`.consumer_writes`);
  expect(Number((r as { pids: number }[])[0]?.pids)).toBe(2); // a new process after the restart
  expect(q.report()).toMatchObject({ stopped: ['writer'], restarted: ['writer'], restartFailures: [] });
  expect(q.report().downtimeMs).toBeGreaterThan(0);
});
