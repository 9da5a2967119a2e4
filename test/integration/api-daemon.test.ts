/**
 * The daemon's HTTP API end to end: the built CLI as `--daemon` on a private
 * port (and a unix socket), tokens made with `schema_backup token add`, real
 * HTTP requests, the shared MariaDB, real git, the fake systemctl.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, cpSync, readFileSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import type { RowDataPacket } from 'mysql2/promise';
import type { RunView } from '../../src/api/runs';
import type { StatusRecord } from '../../src/bookkeeping/status';
import { EXIT } from '../../src/errors';
import { run } from '../../src/proc/run';
import { CLI, runCli, writeConfig } from '../helpers/backup';
import { checksumTable, createTestDatabase, type TestDatabase } from '../helpers/db';
import { createFakeServices, type FakeServices } from '../helpers/fake-services';
import { gitEnv } from '../helpers/git';
import { prng } from '../helpers/prng';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

const HOST = 'h';
const YEARLY = '0 0 1 1 *';
const RESTORE_CLI = join(__dirname, '../../dist/src/cli/schema_restore.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SCOPES = ['read', 'backup', 'export', 'restore'] as const;
type Scope = (typeof SCOPES)[number];

afterAll(() => cleanupTempDirs());

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

async function until(what: string, pred: () => Promise<boolean> | boolean, ms = 30000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`not reached within ${ms} ms: ${what}`);
    await sleep(50);
  }
}

interface Daemon {
  child: ChildProcess;
  stderr(): string;
  stop(): Promise<{ code: number | null; stderr: string }>;
}

function startDaemon(config: string, env: NodeJS.ProcessEnv): Daemon {
  const clean: NodeJS.ProcessEnv = { ...gitEnv(), ...env };
  for (const k of ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID', 'JOURNAL_STREAM', 'SCHEMA_BACKUP_CONF']) delete clean[k];
  const child = spawn(process.execPath, [CLI, '--daemon', '--config', config, '--host-name', HOST], { env: clean, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  child.stdout?.resume();
  const done = new Promise<{ code: number | null; stderr: string }>((res) => child.on('close', (code) => res({ code, stderr })));
  return {
    child,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 30000);
      const r = await done;
      clearTimeout(t);
      return r;
    },
  };
}

interface Site {
  db: TestDatabase;
  dir: string;
  config: string;
  gitDir: string;
  userDir: string;
  stateDir: string;
  port: number;
  base: string;
  tokens: Record<Scope, string>;
  fake: FakeServices;
  daemon: Daemon;
  stop(): Promise<void>;
}

/** A database (global table g, local table l), a configuration with the API on a private port, a token per scope, the daemon. */
async function startSite(label: string, extra: string[] = [], listen?: string): Promise<Site> {
  const db = await createTestDatabase(label);
  await db.conn.query(
    'CREATE TABLE g (id INT PRIMARY KEY, pad VARBINARY(600)); CREATE TABLE l (id INT PRIMARY KEY, pad VARBINARY(600));' +
      'INSERT INTO g SELECT seq, RANDOM_BYTES(300) FROM seq_1_to_200; INSERT INTO l SELECT id, pad FROM g;',
  );
  const fake = createFakeServices({ writer: 'exec sleep 1000' });
  await fake.start('writer');
  fake.clearCalls();
  const dir = tempDir('api-');
  const port = await freePort();
  const paths = { gitDir: join(dir, 'git'), userDir: join(dir, 'user'), stateDir: join(dir, 'state') };
  const config = writeConfig(dir, {
    csv2BackupDir: paths.gitDir,
    userDataBackupDir: paths.userDir,
    stateDir: paths.stateDir,
    credentialsFile: db.credentialsFile,
    global: ['g'],
    local: ['l'],
    consumers: ['writer'],
    extra: [`schedule: '${YEARLY}'`, `api: { listen: ${JSON.stringify(listen ?? `127.0.0.1:${port}`)}, allow_restore: true }`, ...extra].join('\n'),
  });
  const tokens = {} as Record<Scope, string>;
  for (const scope of SCOPES) {
    const r = await runCli(['token', 'add', `t-${scope}`, '--scope', scope, '--config', config]);
    expect(r.code).toBe(0);
    tokens[scope] = r.stdout.trim();
  }
  const daemon = startDaemon(config, fake.env);
  if (!listen) await until('the API answers', () => fetch(`http://127.0.0.1:${port}/v1/status`).then(() => true, () => false));
  return {
    db,
    dir,
    config,
    ...paths,
    port,
    base: `http://127.0.0.1:${port}`,
    tokens,
    fake,
    daemon,
    async stop() {
      await daemon.stop();
      await fake.cleanup();
      await db.drop();
    },
  };
}

const auth = (token: string) => ({ authorization: `Bearer ${token}` });

async function call(site: Site, method: string, path: string, token: string | null, body?: unknown): Promise<{ status: number; json: unknown; headers: Headers }> {
  const headers: Record<string, string> = token ? auth(token) : {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${site.base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // metrics and archives are not JSON
  }
  return { status: res.status, json, headers: res.headers };
}

async function waitRun(site: Site, location: string): Promise<RunView> {
  let view: RunView | null = null;
  await until(`run ${location} ends`, async () => {
    view = (await call(site, 'GET', location, site.tokens.read)).json as RunView;
    return view.state !== 'running';
  }, 60000);
  return view as unknown as RunView;
}

async function backupNow(site: Site, body: unknown = { mode: 'online' }): Promise<RunView> {
  const r = await call(site, 'POST', '/v1/backups', site.tokens.backup, body);
  expect(r.status).toBe(202);
  return waitRun(site, r.headers.get('location') as string);
}

describe('one site', () => {
  let site: Site;
  beforeAll(async () => {
    site = await startSite('api_main', ['user_data_retention: { keep: 1 }']);
  }, 60000);
  afterAll(async () => {
    const log = site.daemon.stderr();
    await site.stop();
    // Tokens never reach a log line, whatever was asked.
    for (const t of Object.values(site.tokens)) expect(log).not.toContain(t);
  }, 60000);

  test('every endpoint against every scope: 401 without or with an unknown token, 403 below its scope, else served', async () => {
    const first = await backupNow(site);
    expect(first).toMatchObject({ kind: 'backup', state: 'succeeded', exitCode: 0, mode: 'online' });
    const record = first.result as StatusRecord;
    expect(record.commit).toMatch(/^[0-9a-f]{40}$/);
    const snapshot = (record.userSnapshot as string).split('/').pop() as string;

    const endpoints: { method: string; path: string; need: Scope; ok: number; body?: unknown; afterwards?: (r: { status: number; headers: Headers }) => Promise<void> }[] = [
      { method: 'GET', path: '/v1/status', need: 'read', ok: 200 },
      { method: 'GET', path: '/metrics', need: 'read', ok: 200 },
      { method: 'GET', path: '/v1/backups', need: 'read', ok: 200 },
      { method: 'GET', path: `/v1/runs/${first.id}`, need: 'read', ok: 200 },
      {
        method: 'POST',
        path: '/v1/backups',
        need: 'backup',
        ok: 202,
        body: { mode: 'online' },
        afterwards: async (r) => void (await waitRun(site, r.headers.get('location') as string)),
      },
      { method: 'GET', path: `/v1/backups/${snapshot}/archive`, need: 'export', ok: 200 },
      { method: 'GET', path: '/v1/backups/latest/archive', need: 'export', ok: 200 },
      {
        method: 'POST',
        path: '/v1/restore',
        need: 'restore',
        ok: 202,
        body: { database: `${site.db.name}_dry`, dryRun: true, mode: 'online' },
        afterwards: async (r) => void (await waitRun(site, r.headers.get('location') as string)),
      },
    ];
    const got: string[] = [];
    const want: string[] = [];
    for (const e of endpoints) {
      for (const who of ['none', 'unknown', ...SCOPES] as const) {
        const token = who === 'none' ? null : who === 'unknown' ? 'A'.repeat(43) : site.tokens[who];
        const r = await call(site, e.method, e.path, token, e.body);
        got.push(`${e.method} ${e.path} ${who} ${r.status}`);
        const expected = token === null || who === 'unknown' ? 401 : SCOPES.indexOf(who as Scope) < SCOPES.indexOf(e.need) ? 403 : e.ok;
        want.push(`${e.method} ${e.path} ${who} ${expected}`);
        if (r.status === e.ok && e.afterwards) await e.afterwards(r);
      }
    }
    expect(got).toEqual(want);

    // What they answer.
    const status = (await call(site, 'GET', '/v1/status', site.tokens.read)).json as { healthy: boolean; status: StatusRecord };
    const cli = JSON.parse((await runCli(['status', '--json', '--config', site.config])).stdout) as { status: StatusRecord };
    expect(status.status).toEqual(cli.status);
    const metrics = await call(site, 'GET', '/metrics', site.tokens.read);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(metrics.json).toMatch(/^schema_backup_last_run_success 1$/m);
    const list = (await call(site, 'GET', '/v1/backups', site.tokens.read)).json as { commits: { commit: string; bytes: number }[]; snapshots: { name: string; latest: boolean; bytes: number; rows: number }[] };
    expect(list.commits.map((c) => c.commit)).toContain(record.commit);
    expect(list.commits.every((c) => c.bytes > 0)).toBe(true);
    expect(list.snapshots.find((s) => s.name === snapshot)).toMatchObject({ rows: 200, bytes: expect.any(Number) });
    expect(list.snapshots.filter((s) => s.latest)).toHaveLength(1);
  }, 120000);

  test('two concurrent POST /v1/backups: one 202, one 409; a one-shot holding the lock gives 409 too', async () => {
    const both = await Promise.all([0, 1].map(() => call(site, 'POST', '/v1/backups', site.tokens.backup, { mode: 'online' })));
    expect(both.map((r) => r.status).sort()).toEqual([202, 409]);
    const accepted = both.find((r) => r.status === 202) as { headers: Headers };
    expect(accepted.headers.get('location')).toMatch(/^\/v1\/runs\/[0-9a-f]{16}$/);
    expect((await waitRun(site, accepted.headers.get('location') as string)).state).toBe('succeeded');

    // A one-shot on the shell in the default mode: it stops the consumer and waits pause_interval (3 s) under the lock.
    const conf = readFileSync(site.config, 'utf8').replace(/^pause_interval: .*$/m, 'pause_interval: 3');
    const slow = join(site.dir, 'slow.conf');
    require('node:fs').writeFileSync(slow, conf);
    const oneShot = runCli(['--config', slow, '--host-name', HOST], { env: site.fake.env });
    await until('the one-shot holds the lock', () => existsSync(join(site.stateDir, 'schema_backup.lock')));
    const refused = await call(site, 'POST', '/v1/backups', site.tokens.backup, { mode: 'online' });
    expect(refused).toMatchObject({ status: 409, json: { error: expect.stringMatching(/run lock/) } });
    expect((await oneShot).code).toBe(0);
    expect((await backupNow(site)).state).toBe('succeeded');
  }, 120000);

  test('an archive downloaded while the database and the backups change restores (schema_restore --archive) to exactly its snapshot', async () => {
    // One transaction adds the same id to g and l: any consistent snapshot has equal ids in both.
    // ~20 MB of archive: far more than socket buffers hold, so the backups below run while it is mid-stream.
    await site.db.conn.query('INSERT INTO g SELECT seq, RANDOM_BYTES(600) FROM seq_500000_to_515000; INSERT INTO l SELECT id, pad FROM g WHERE id >= 500000');
    let next = 600_000;
    let writing = true;
    const writer = (async () => {
      while (writing) {
        const id = next++;
        await site.db.conn.query('BEGIN; INSERT INTO g VALUES (?, RANDOM_BYTES(300)); INSERT INTO l SELECT id, pad FROM g WHERE id = ?; UPDATE g SET pad = RANDOM_BYTES(300) WHERE id = ?; COMMIT;', [id, id, (id % 200) + 1]);
        await sleep(5);
      }
    })();
    try {
      const made = await backupNow(site);
      const record = made.result as StatusRecord;
      const snapshot = (record.userSnapshot as string).split('/').pop() as string;
      // The reference, from the backup directories as that run left them: its commit and its snapshot.
      const ref = tempDir('api-ref-');
      mkdirSync(join(ref, 'git'));
      await run('/bin/sh', ['-c', `git -C "${site.gitDir}" archive ${record.commit} ${HOST} | tar -x -C "${join(ref, 'git')}"`], { env: gitEnv() });
      cpSync(join(site.userDir, snapshot), join(ref, 'user', snapshot), { recursive: true });

      // Start the download, read a little, then let two more backups publish new host files, a new snapshot and retention remove this one.
      const res = await fetch(`${site.base}/v1/backups/latest/archive`, { headers: auth(site.tokens.export) });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-schema-backup-snapshot')).toBe(snapshot);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const chunks: Uint8Array[] = [];
      const firstChunk = await reader.read();
      if (!firstChunk.done) chunks.push(firstChunk.value);
      const early = firstChunk.value?.length ?? 0;
      await backupNow(site);
      await backupNow(site);
      expect(existsSync(join(site.userDir, snapshot))).toBe(false);
      let late = 0;
      for (;;) {
        const c = await reader.read();
        if (c.done) break;
        chunks.push(c.value);
        late += c.value.length;
      }
      // Most of it was still to come when the snapshot was deleted.
      expect(late).toBeGreaterThan(early * 2);
      const file = join(site.dir, 'archive.tar.gz');
      await pipeline(Readable.from(chunks.map((c) => Buffer.from(c))), createWriteStream(file));

      const fromArchive = `${site.db.name}_ar`;
      const fromRef = `${site.db.name}_rf`;
      const restored = await run(process.execPath, [RESTORE_CLI, '--config', site.config, '--archive', file, '--database', fromArchive, '--online'], { env: { ...gitEnv(), ...site.fake.env } });
      expect(restored.stderr).not.toMatch(/error/);
      const refConf = writeConfig(ref, {
        csv2BackupDir: join(ref, 'git'),
        userDataBackupDir: join(ref, 'user'),
        stateDir: join(ref, 'state'),
        credentialsFile: site.db.credentialsFile,
        global: ['g'],
        local: ['l'],
      });
      await run(process.execPath, [RESTORE_CLI, '--config', refConf, '--host-name', HOST, '--snapshot', snapshot, '--database', fromRef, '--online'], { env: gitEnv() });
      try {
        for (const t of ['g', 'l']) {
          const a = await checksumTable(site.db.conn, fromArchive, t);
          expect({ t, a }).toEqual({ t, a: await checksumTable(site.db.conn, fromRef, t) });
          expect({ t, live: await checksumTable(site.db.conn, site.db.name, t) }).not.toEqual({ t, live: a });
        }
        const [rows] = await site.db.conn.query<RowDataPacket[]>(`SELECT (SELECT MAX(id) FROM \`${fromArchive}\`.g) AS g, (SELECT MAX(id) FROM \`${fromArchive}\`.l) AS l, (SELECT COUNT(*) FROM \`${fromArchive}\`.l) AS n`);
        expect(rows[0]?.g).toBe(rows[0]?.l);
        expect(Number(rows[0]?.n)).toBeGreaterThan(200);
      } finally {
        await site.db.conn.query(`DROP DATABASE IF EXISTS \`${fromArchive}\`; DROP DATABASE IF EXISTS \`${fromRef}\``);
      }
    } finally {
      writing = false;
      await writer;
    }
  }, 180000);

  test('POST /v1/restore stops and starts the consumers as schema_restore does; unknown options, snapshots and conflicts are refused', async () => {
    const target = `${site.db.name}_api`;
    site.fake.clearCalls();
    const r = await call(site, 'POST', '/v1/restore', site.tokens.restore, { database: target });
    expect(r.status).toBe(202);
    const done = await waitRun(site, r.headers.get('location') as string);
    try {
      expect(done).toMatchObject({ kind: 'restore', state: 'succeeded', exitCode: 0 });
      expect((await site.fake.calls()).map((c) => `${c.verb} ${c.unit}`).filter((l) => !l.startsWith('is-active'))).toEqual(['stop writer', 'start writer']);
      expect(await checksumTable(site.db.conn, target, 'l')).not.toBeNull();
      const again = await waitRun(site, (await call(site, 'POST', '/v1/restore', site.tokens.restore, { database: target, mode: 'online' })).headers.get('location') as string);
      expect(again).toMatchObject({ state: 'failed', exitCode: EXIT.usage, error: expect.stringMatching(/already holds/) });
    } finally {
      await site.db.conn.query(`DROP DATABASE IF EXISTS \`${target}\``);
    }
    expect(await call(site, 'POST', '/v1/restore', site.tokens.restore, { database: target, force: true })).toMatchObject({ status: 400, json: { error: expect.stringMatching(/additional properties/) } });
    expect(await call(site, 'POST', '/v1/restore', site.tokens.restore, { merge: true, replace: true })).toMatchObject({ status: 400 });
    expect(await call(site, 'POST', '/v1/restore', site.tokens.restore, { snapshot: '../latest' })).toMatchObject({ status: 400 });
    expect(await call(site, 'POST', '/v1/restore', site.tokens.restore, { snapshot: '20000101000000' })).toMatchObject({ status: 404 });
    expect(await call(site, 'POST', '/v1/backups', site.tokens.backup, { mode: 'target' })).toMatchObject({ status: 400 });
  }, 120000);

  test('a bounded fuzz of malformed requests never takes the daemon down', async () => {
    const t = site.tokens.restore;
    const raw = (text: string | Buffer, waitMs = 300) =>
      new Promise<string>((resolve) => {
        const s = connect(site.port, '127.0.0.1');
        let got = '';
        s.on('data', (d) => (got += d.toString('latin1')));
        s.on('error', () => resolve(got));
        s.on('close', () => resolve(got));
        s.write(text);
        setTimeout(() => s.destroy(), waitMs);
      });
    const statuses: number[] = [];
    const tricks = ['..', '%2e%2e', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '..%2f..%2f', '%00', 'latest%00', 'x'.repeat(5000), '%ff%fe', '20260101000000%2f..', 'latest/..', '%252e%252e', '.%2e', '00000000000000'];
    for (const trick of tricks) {
      const r = await fetch(`${site.base}/v1/backups/${trick}/archive`, { headers: auth(t) });
      await r.arrayBuffer();
      statuses.push(r.status);
      expect([400, 404, 414]).toContain(r.status);
    }
    for (const body of ['{', 'null', '[]', '"x"', '{"mode":1}', '{"mode":"online","mode":"x"}', '{"__proto__":{"x":1}}', 'x'.repeat(20000), '\u0000']) {
      const r = await fetch(`${site.base}/v1/backups`, { method: 'POST', headers: { ...auth(t), 'content-type': 'application/json' }, body });
      await r.arrayBuffer();
      expect({ body: body.slice(0, 30), status: r.status }).toEqual({ body: body.slice(0, 30), status: body.length > 16 * 1024 ? 413 : 400 });
    }
    const wrongType = await fetch(`${site.base}/v1/restore`, { method: 'POST', headers: { ...auth(t), 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' });
    expect(wrongType.status).toBe(415);
    const hugeHeader = await fetch(`${site.base}/v1/status`, { headers: { ...auth(t), 'x-fill': 'y'.repeat(40000) } });
    expect(hugeHeader.status).toBe(431);
    expect(await call(site, 'GET', '/v1/status?verbose=1', t)).toMatchObject({ status: 400 });
    expect((await call(site, 'GET', '/v1/nothing', t)).status).toBe(404);
    expect((await call(site, 'DELETE', '/v1/backups', t)).status).toBe(404);
    expect((await raw(`GET /v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${'z'.repeat(300)}\r\n\r\n`)).slice(0, 12)).toBe('HTTP/1.1 401');
    await raw('GARBAGE\r\n\r\n');
    await raw(`POST /v1/backups HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`);
    await raw(`POST /v1/backups HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"mo`);
    await raw('GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: '); // headers never finished
    // Random mutations of a valid request.
    const rnd = prng(15);
    const valid = Buffer.from(`POST /v1/backups HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${site.tokens.read}\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{"mode":"online"}`);
    for (let i = 0; i < 60; i++) {
      const m = Buffer.from(valid);
      for (let k = 0; k < 1 + Math.floor(rnd() * 6); k++) m[Math.floor(rnd() * m.length)] = Math.floor(rnd() * 256);
      await raw(m, 100);
    }
    expect(site.daemon.child.exitCode).toBeNull();
    expect((await call(site, 'GET', '/v1/status', site.tokens.read)).status).toBe(200);
    expect(site.daemon.stderr()).not.toMatch(/internal error|api request failed/);
  }, 120000);
});

test('SIGTERM: the listener closes, an archive in flight is completed first, the daemon exits 0; restores can be switched off', async () => {
  const site = await startSite('api_term', ['user_data_retention: { keep: 1 }']);
  try {
    await site.db.conn.query('INSERT INTO g SELECT seq, RANDOM_BYTES(600) FROM seq_1000_to_30000');
    expect((await backupNow(site)).state).toBe('succeeded');

    // allow_restore: false, by SIGHUP.
    require('node:fs').writeFileSync(site.config, readFileSync(site.config, 'utf8').replace('allow_restore: true', 'allow_restore: false'));
    site.daemon.child.kill('SIGHUP');
    await until('reloaded', () => /configuration reloaded/.test(site.daemon.stderr()));
    expect(await call(site, 'POST', '/v1/restore', site.tokens.restore, { dryRun: true })).toMatchObject({ status: 403, json: { error: expect.stringMatching(/allow_restore/) } });

    const res = await fetch(`${site.base}/v1/backups/latest/archive`, { headers: auth(site.tokens.export) });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let bytes = (await reader.read()).value?.length ?? 0;
    site.daemon.child.kill('SIGTERM');
    await until('stopping', () => /stopping signal=SIGTERM/.test(site.daemon.stderr()));
    await sleep(300);
    // New connections are refused (or answered 503) while the download goes on.
    const late = await fetch(`${site.base}/v1/status`, { headers: auth(site.tokens.read) }).then((r) => r.status, () => 'refused');
    expect([503, 'refused']).toContain(late);
    expect(site.daemon.child.exitCode).toBeNull();
    for (;;) {
      const c = await reader.read();
      if (c.done) break;
      bytes += c.value.length;
    }
    const exit = await site.daemon.stop();
    expect(exit.code).toBe(EXIT.ok);
    expect(bytes).toBeGreaterThan(5_000_000);
    expect(exit.stderr).toMatch(/API closed/);
  } finally {
    await site.stop();
  }
}, 120000);

test('a unix socket: mode 0660, served, removed on stop', async () => {
  const sockDir = tempDir('api-sock-');
  const path = join(sockDir, 'api.sock');
  const site = await startSite('api_unix', [], `unix:${path}`);
  try {
    // Watched from the start, as closely as the event loop allows: the first mode a client can see must be 0660.
    let firstMode: number | null = null;
    for (const end = Date.now() + 30000; firstMode === null && Date.now() < end; ) {
      try {
        firstMode = statSync(path).mode & 0o777;
      } catch {
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    expect(firstMode).toBe(0o660);
    const get = (token: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest({ socketPath: path, path: '/v1/status', headers: auth(token) }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
    expect(await get(site.tokens.read)).toMatchObject({ status: 200, body: expect.stringMatching(/"healthy"/) });
    expect((await get('nope')).status).toBe(401);
    expect((await site.daemon.stop()).code).toBe(EXIT.ok);
    expect(existsSync(path)).toBe(false);
  } finally {
    await site.stop();
  }
}, 60000);

