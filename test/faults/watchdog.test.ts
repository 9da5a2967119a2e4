/**
 * The watchdog does not ping through a stalled dump. A real row dump is
 * stalled by a write lock another session holds on its table; the daemon's
 * watchdog timer is driven by the test (an injected clock), its pings go
 * through the real notifier to a real notify socket. While the dump does not
 * move, WATCHDOG=1 is withheld (systemd would restart the daemon); once it
 * moves again, and when the daemon is idle, the pings come.
 */
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { BackupSummary } from '../../src/domain/summary';
import type { BackupConfig, DbCredentials } from '../../src/config/types';
import { runDaemon } from '../../src/daemon/daemon';
import { createNotifier } from '../../src/daemon/notify';
import { connect, type Db } from '../../src/db/connect';
import { describeTables } from '../../src/db/introspect';
import type { DbTableDetail } from '../../src/db/schema';
import { dumpProgress } from '../../src/dump/progress';
import { dumpRows } from '../../src/dump/rows';
import { EXIT } from '../../src/errors';
import { run } from '../../src/proc/run';
import { createLogger } from '../../src/log';
import type { RowSink } from '../../src/store/file-sink';
import { createTestDatabase, testServer, type TestDatabase } from '../helpers/db';
import { openNotifySocket, type NotifySocket } from '../helpers/notify-socket';
import { sampleSummary } from '../helpers/summary';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

jest.setTimeout(60_000);

const sink: RowSink = { push: () => false, flush: async () => undefined, startRows: () => undefined, endRows: () => undefined };

async function until(what: string, pred: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let tdb: TestDatabase;
let db: Db;
let table: DbTableDetail;
let sock: NotifySocket;

beforeAll(async () => {
  tdb = await createTestDatabase('watchdog');
  await tdb.conn.query('CREATE TABLE t (id INT PRIMARY KEY, v TEXT); INSERT INTO t SELECT seq, REPEAT(MD5(seq), 8) FROM seq_1_to_5000');
  const s = testServer();
  const creds: DbCredentials = { host: s.host, port: s.port, user: s.user, password: s.password, database: tdb.name, socketPath: null, source: 'test' };
  db = await connect(creds);
  table = (await describeTables(db)).get('t') as DbTableDetail;
  sock = await openNotifySocket();
});
afterAll(async () => {
  await sock?.close();
  await db?.close();
  await tdb?.drop();
  cleanupTempDirs();
});

test('the row dump bumps the progress counter and ends with no read in progress', async () => {
  const before = dumpProgress();
  await dumpRows(db, table, sink);
  const after = dumpProgress();
  expect(after.reading).toBe(before.reading);
  expect(after.moves - before.moves).toBeGreaterThanOrEqual(3);
});

test('WATCHDOG=1 is withheld while a dump is stalled, and comes again once it moves and when idle', async () => {
  const env = { ...process.env, NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '3600000000' };
  const stream = new PassThrough();
  let logText = '';
  stream.on('data', (d: Buffer) => (logText += d.toString()));
  const log = createLogger({ stream, journal: true, level: 'debug' });
  const notifier = createNotifier(env, log);
  let tick: (() => void) | null = null;
  let marks = 0;

  /** WATCHDOG=1 datagrams sent by `fn` (the notifier flushed, then a marker sent after them arrives). */
  const pingsFrom = async (fn: () => void): Promise<number> => {
    const from = sock.messages().length;
    fn();
    await notifier.flush();
    const mark = `STATUS=mark ${++marks}`;
    // Sent by the binary with this env (the package's STATUS= goes to process.env's socket).
    await run('/usr/bin/systemd-notify', [mark], { env });
    await sock.waitFor((m) => m === mark);
    const all = sock.messages();
    return all.slice(from, all.indexOf(mark)).filter((m) => m === 'WATCHDOG=1').length;
  };

  const locker = await tdb.conn.query('LOCK TABLES t WRITE').then(() => tdb.conn);
  let runs = 0;
  let dumped: Promise<unknown> | null = null;
  const dir = tempDir('sb-watchdog-');
  const config = {
    file: join(dir, 'schema_backup.conf'),
    schedule: '* * * * * *',
    statusFile: join(dir, 'status.json'),
    metricsFile: null,
    retention: null,
    userDataBackupDir: null,
  } as unknown as BackupConfig;
  const signals = new EventEmitter();
  const exit = runDaemon({
    loadConfig: () => config,
    runOnce: async (): Promise<BackupSummary> => {
      // The first run dumps the locked table: its SELECT waits for the lock, the dump does not move.
      if (runs++ === 0) await (dumped = dumpRows(db, table, sink));
      return sampleSummary();
    },
    notifier,
    log,
    signals,
    env,
    every: (_ms, fn) => {
      tick = fn;
      return { stop: () => (tick = null) };
    },
  });
  try {
    await until('the watchdog timer', () => tick !== null);
    await until('the stalled dump to start', () => dumpProgress().reading === 1);
    const drive = (): void => (tick as () => void)();
    // The read started after the startup ping: that is progress.
    expect(await pingsFrom(drive)).toBe(1);
    // Then nothing moves: no ping, however often the timer fires.
    expect(await pingsFrom(drive)).toBe(0);
    expect(await pingsFrom(drive)).toBe(0);
    expect(await pingsFrom(drive)).toBe(0);
    expect(logText.match(/WATCHDOG=1 withheld/g)).toHaveLength(1);

    await locker.query('UNLOCK TABLES');
    await dumped;
    await until('the run to end', () => dumpProgress().reading === 0);
    expect(await pingsFrom(drive)).toBe(1);
    expect(logText).toMatch(/watchdog pings resumed/);
    // Idle between runs (or in runs that read no rows): every tick pings.
    expect(await pingsFrom(drive)).toBe(1);
    expect(await pingsFrom(drive)).toBe(1);
  } finally {
    await locker.query('UNLOCK TABLES');
    signals.emit('SIGTERM');
    expect(await exit).toBe(EXIT.ok);
  }
});
