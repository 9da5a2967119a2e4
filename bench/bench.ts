/**
 * `npm run bench`: schema_backup against its peers, in one run, on a private
 * MariaDB (or the server of `--db-config FILE`). Every table shape is measured
 * over TCP to 127.0.0.1 and over the unix socket (every tool the same way)
 * against mariadb-dump, mydumper -t 1 and mydumper -t 2 --rows 200000; restores
 * against `mariadb DB < dump` and myloader -t 2. Each case runs `--runs N`
 * times (default 3); the table shows medians, ratios ours/peer, peak RSS from
 * GNU time and the goal with PASS/MISS. Everything also goes to
 * bench/results.json. `--profile` profiles one run instead (see profile-case.ts).
 *
 *   npm run bench -- [--quick] [--runs N] [--rows N] [--only CASES] [--transport tcp,socket] [--db-config FILE] [--keep] [--profile]
 */
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { startPrivateServer, type PrivateServer } from '../scripts/lib/mariadb-server';
import { loadCredentials } from '../src/config/credentials';
import type { DbCredentials } from '../src/config/types';
import { run, runAllowingFailure } from '../src/proc/run';
import { SHAPES, siteSql, type TableShape } from './datasets';
import { parseBenchArgs, type BenchArgs } from './args';
import { haveGnuTime, measure, summarize, type Sample, type Summary } from './measure';
import { ensureMydumper, mariadbDump } from './peers';
import { profileShape } from './profile-case';
import { renderReport, type Row } from './report';
import { runRestore } from './restore-case';
import { adminConnection, benchDatabase, credentialFiles, runSql, writeBenchConfig, type BenchDb } from './setup';
import { mb, runShape, type ShapeContext } from './shape-case';
import { CLI, SteadyRoot, operatorEnv, ours } from './steady-root';

const ROOT = resolve(__dirname, '../..');
const FAKE_SYSTEMCTL = join(ROOT, 'test/helpers/fake-systemctl');
const RESULTS = join(ROOT, 'bench/results.json');

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

interface Transport {
  name: string;
  base: DbCredentials;
}

/** `runs` measured runs of ours on one steady-state root. */
async function steadyRuns(admin: Connection, db: BenchDb, scratch: string, local: string[], runs: number): Promise<Summary> {
  const root = await SteadyRoot.create(db, scratch, { local });
  const samples: Sample[] = [];
  try {
    for (let i = 0; i < runs; i++) samples.push((await root.run(admin, scratch)).sample);
  } finally {
    await root.remove();
  }
  return summarize(samples);
}

/** Files under `dir` with their mtimes (recursive; .git left out). */
async function mtimes(dir: string, out = new Map<string, number>()): Promise<Map<string, number>> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name === '.git') continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) await mtimes(p, out);
    else out.set(p, (await stat(p)).mtimeMs);
  }
  return out;
}

async function commitCount(repo: string): Promise<number> {
  return Number((await run('git', ['-C', repo, 'rev-list', '--count', 'HEAD'])).stdout.trim());
}

const GIT_ISOLATED = { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };
const GIT_ENV = { ...process.env, ...GIT_ISOLATED };
const gitIn = (repo: string, args: string[]) => runAllowingFailure('git', ['-C', repo, '-c', 'user.name=bench', '-c', 'user.email=bench@localhost', ...args], { env: GIT_ENV });

/** The original tool's way, timed as a whole: one mariadb-dump per table (rows for the global ones) into a git work tree, then a commit. */
async function originalSiteRun(db: BenchDb, tables: string[], global: string[], repo: string, scratch: string): Promise<Summary> {
  const t0 = process.hrtime.bigint();
  const each: Sample[] = [];
  for (const t of tables) each.push(await mariadbDump(db, [t], join(repo, `${t}.sql`), scratch, !global.includes(t)));
  await gitIn(repo, ['add', '-A']);
  await gitIn(repo, ['commit', '-q', '-m', 'backup']);
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  return { wallMs, peakRssKb: Math.max(...each.map((x) => x.peakRssKb ?? 0)), cpuMs: each.reduce((n, x) => n + (x.cpuMs ?? 0), 0), runsMs: [] };
}

async function main(): Promise<void> {
  const args: BenchArgs = parseBenchArgs(process.argv.slice(2));
  if (!haveGnuTime()) log('/usr/bin/time is missing (Debian: apt-get install time): peak RSS will not be reported');
  const want = (c: string) => args.only.has(c);
  const needsMydumper = !args.profile && [...args.only].some((c) => SHAPES.some((s) => s.name === c) || c.startsWith('restore'));
  const haveMydumper = needsMydumper ? await ensureMydumper(log) : false;
  const scratch = await mkdtemp(join(tmpdir(), 'sb-bench-'));
  let server: PrivateServer | null = null;
  const transports: Transport[] = [];
  let base: DbCredentials;
  if (args.dbConfig) {
    base = loadCredentials({ cliPath: args.dbConfig, configured: null });
    transports.push({ name: base.socketPath ? 'socket' : 'tcp', base });
  } else {
    log('starting a private MariaDB');
    server = await startPrivateServer();
    // TCP to 127.0.0.1, as CSV2's db_host configurations do; the socket as a local db_socket does.
    base = { host: server.host, port: server.port, socketPath: null, user: server.user, password: server.password, database: '', source: 'private server' };
    for (const name of args.transports) transports.push({ name, base: name === 'tcp' ? base : { ...base, host: 'localhost', socketPath: server.socket } });
  }
  const admin = await adminConnection(base);
  const rows: Row[] = [];
  const json: Record<string, unknown> = {
    startedAt: new Date().toISOString(),
    args: { ...args, only: [...args.only] },
    host: { cpus: cpus().length, loadAtStart: (await import('node:os')).loadavg() },
    mydumper: haveMydumper,
    cases: {},
  };
  const record = (name: string, data: unknown) => ((json.cases as Record<string, unknown>)[name] = data);
  const ctx: ShapeContext = { admin, scratch, runs: args.runs, mydumper: haveMydumper };
  const credsDir = join(scratch, 'credentials');
  const dbs: string[] = [];
  const profiles: string[] = [];
  try {
    for (const shape of SHAPES) {
      const isBig = shape.name === 'big';
      const uses = args.profile
        ? want(shape.name)
        : want(shape.name) || want(`restore-${shape.name}`) || (isBig && (want('memory') || want('downtime') || want('export') || want('progress')));
      if (!uses) continue;
      const n = shape.rowsFor(args.rows);
      const db = await benchDatabase(admin, base, `sb_bench_${shape.name}`, credsDir);
      dbs.push(db.name);
      log(`building ${shape.name} (${n} rows)`);
      await runSql(admin, db.name, shape.sql(n));
      const viaTransport = (t: Transport) => credentialFiles(t.base, db.name, credsDir, `${db.name}-${t.name}`);

      if (args.profile) {
        const t = transports[0];
        log(`profiling ${shape.name} over ${t.name}`);
        const p = await profileShape(admin, shape, await viaTransport(t), scratch, server?.pid ?? null, t.name);
        profiles.push(p.text);
        record(`profile-${shape.name}`, p.data);
      } else {
        let bigRssKb: number | null = null;
        if (want(shape.name)) {
          for (const t of transports) {
            log(`case ${shape.name} over ${t.name}`);
            const r = await runShape(ctx, shape, n, await viaTransport(t), t.name);
            rows.push(...r.rows);
            record(`${shape.name}-${t.name}`, r.data);
            if (isBig && t.name === 'tcp') bigRssKb = (r.data as { ours: Summary | null }).ours?.peakRssKb ?? null;
          }
        }
        if (isBig && want('memory')) await memoryCase(admin, base, db, shape, args, scratch, credsDir, bigRssKb, rows, record, dbs);
        if (isBig && want('downtime')) await downtimeCase(db, args, scratch, rows, record);
        if (isBig && want('export')) await exportCase(db, args, n, scratch, rows, record);
        if (isBig && want('progress')) await progressCase(admin, db, args, n, scratch, rows, record);
        if (want(`restore-${shape.name}`)) {
          log(`case restore-${shape.name}`);
          try {
            const r = await runRestore(ctx, shape, n, db, base, credsDir);
            rows.push(...r.rows);
            record(`restore-${shape.name}`, r.data);
          } catch (err) {
            // Reported in the table, not fatal: the other cases still say something.
            const message = err instanceof Error ? err.message.split('\n').slice(-2).join(' ') : String(err);
            log(`restore-${shape.name} failed: ${message}`);
            rows.push({ section: 'restore', case: `restore ${shape.label}`, ours: null, oursRssMb: null, peers: [], note: `failed: ${message.slice(0, 160)}` });
            record(`restore-${shape.name}`, { error: message });
          }
        }
      }
      if (!args.keep) await admin.query(`DROP DATABASE IF EXISTS \`${db.name}\``);
    }

    if (!args.profile && (want('site') || want('unchanged'))) await siteCases(admin, base, args, scratch, credsDir, rows, record, dbs);
  } finally {
    if (!args.keep) for (const name of dbs) await admin.query(`DROP DATABASE IF EXISTS \`${name}\``).catch(() => undefined);
    await admin.end().catch(() => undefined);
    if (server) await server.stop();
    if (!args.keep) await rm(scratch, { recursive: true, force: true });
  }
  if (profiles.length) process.stdout.write(profiles.join('\n'));
  if (rows.length) process.stdout.write(renderReport(rows));
  json.finishedAt = new Date().toISOString();
  json.loadAtEnd = (await import('node:os')).loadavg();
  json.table = rows;
  await writeFile(RESULTS, JSON.stringify(json, null, 2) + '\n');
  log(`results written to ${RESULTS}`);
}

type Record_ = (name: string, data: unknown) => void;

/** Peak RSS flat in the row count: the big table at --rows against a table ten times smaller. */
async function memoryCase(admin: Connection, base: DbCredentials, big: BenchDb, shape: TableShape, args: BenchArgs, scratch: string, credsDir: string, bigRssKb: number | null, rows: Row[], record: Record_, dbs: string[]): Promise<void> {
  log('case memory flatness');
  const mid = await benchDatabase(admin, base, 'sb_bench_mid', credsDir);
  dbs.push(mid.name);
  const smallRows = Math.round(args.rows / 10);
  await runSql(admin, mid.name, shape.sql(smallRows));
  const small = await steadyRuns(admin, mid, scratch, [shape.name], args.runs);
  await admin.query(`DROP DATABASE IF EXISTS \`${mid.name}\``);
  const bigKb = bigRssKb ?? (await steadyRuns(admin, big, scratch, [shape.name], args.runs)).peakRssKb;
  rows.push({
    section: 'memory and downtime',
    case: `peak RSS: big table, ${args.rows} vs ${smallRows} rows`, unit: 'MB', ours: mb(bigKb), oursRssMb: mb(bigKb),
    peers: [{ name: 'ours, 10x fewer rows', value: mb(small.peakRssKb) }],
    goal: { text: '<=1.2x (flat); <=150 MB', against: ['ours, 10x fewer rows'], limit: 1.2, rssLimitMb: 150 },
  });
  record('memory', { bigPeakRssKb: bigKb, smallPeakRssKb: small.peakRssKb, small });
}

/** `schema_backup export --sqlite` of the big table's backup (issue 16): time and peak RSS, no server involved. */
async function exportCase(big: BenchDb, args: BenchArgs, n: number, scratch: string, rows: Row[], record: Record_): Promise<void> {
  log('case export --sqlite');
  const root = await mkdtemp(join(scratch, 'export-'));
  const conf = await writeBenchConfig({ root, db: big, local: ['big'] });
  await ours(conf.file, big, scratch);
  const samples: Sample[] = [];
  for (let i = 0; i < args.runs; i++) {
    const file = join(root, `export-${i}.sqlite`);
    samples.push(await measure(process.execPath, [CLI, 'export', '--sqlite', file, '--config', conf.file, '--host-name', 'bench'], scratch, { env: operatorEnv(GIT_ISOLATED) }));
    await rm(file, { force: true });
  }
  await rm(root, { recursive: true, force: true });
  const s = summarize(samples);
  rows.push({
    section: 'memory and downtime',
    case: `export --sqlite, big table backup (${n} rows)`, ours: s.wallMs, oursRssMb: mb(s.peakRssKb), peers: [],
    goal: { text: 'RSS<=150MB', against: [], limit: 1, rssLimitMb: 150 },
    note: 'reads the backup files only (no server)',
  });
  record('export', s);
}

/**
 * The progress line costs no speed: the big table backed up on a pseudo-terminal (where the line is
 * drawn) against the same run without a terminal, interleaved. A run whose output shows no line fails the case.
 */
async function progressCase(admin: Connection, big: BenchDb, args: BenchArgs, n: number, scratch: string, rows: Row[], record: Record_): Promise<void> {
  log('case progress (a pseudo-terminal against none)');
  const root = await SteadyRoot.create(big, scratch, { local: ['big'] });
  const plain: Sample[] = [];
  const terminal: Sample[] = [];
  try {
    for (let i = 0; i < 2 * args.runs; i++) {
      // Alternated, so that neither always runs first after the change.
      const onTerminal = i % 2 === (i >> 1) % 2;
      const sample = (await root.run(admin, scratch, { terminal: onTerminal })).sample;
      if (!onTerminal) plain.push(sample);
      else if (/ETA/.test(sample.stdout)) terminal.push(sample);
      else throw new Error(`no progress line on the pseudo-terminal; output: ${sample.stdout.slice(-300)}`);
    }
  } finally {
    await root.remove();
  }
  const t = summarize(terminal);
  const p = summarize(plain);
  const peer = 'same run, no terminal';
  rows.push({
    section: 'memory and downtime',
    case: `progress line on a pseudo-terminal, big table (${n} rows)`, ours: t.wallMs, oursRssMb: mb(t.peakRssKb),
    peers: [{ name: peer, value: p.wallMs, rssMb: mb(p.peakRssKb) }],
    goal: { text: 'no measurable cost: <=1.1x (the noise between runs)', against: [peer], limit: 1.1 },
    note: 'the terminal runs also start util-linux script, which relays the output',
  });
  record('progress', { terminal: t, plain: p });
}

/** Default mode with a fake consumer: how long it is stopped, against the whole run (the original stopped it throughout). */
async function downtimeCase(big: BenchDb, args: BenchArgs, scratch: string, rows: Row[], record: Record_): Promise<void> {
  log('case downtime (default mode, a fake consumer)');
  const fake = await mkdtemp(join(scratch, 'fake-systemctl-'));
  for (const sub of ['units', 'run', 'logs', 'fail', 'hang', 'bin']) await run('mkdir', ['-p', join(fake, sub)]);
  await writeFile(join(fake, 'units', 'bench-consumer.cmd'), 'sleep 3600\n');
  await run('ln', ['-s', FAKE_SYSTEMCTL, join(fake, 'bin', 'systemctl')]);
  const env = { PATH: `${join(fake, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`, FAKE_SYSTEMCTL_DIR: fake, SCHEMA_BACKUP_SYSTEMCTL: FAKE_SYSTEMCTL };
  const down: number[] = [];
  const whole: Sample[] = [];
  for (let i = 0; i < args.runs; i++) {
    await run(FAKE_SYSTEMCTL, ['start', 'bench-consumer'], { env: { ...process.env, ...env } });
    const root = await mkdtemp(join(scratch, 'down-'));
    const conf = await writeBenchConfig({ root, db: big, local: ['big'], consumers: ['bench-consumer'], pauseInterval: 1 });
    const sample = await ours(conf.file, big, scratch, { defaultMode: true, env });
    whole.push(sample);
    const m = /downtime ([0-9.]+) s/.exec(sample.stdout);
    if (m) down.push(Number(m[1]) * 1000);
    await rm(root, { recursive: true, force: true });
  }
  await run(FAKE_SYSTEMCTL, ['stop', 'bench-consumer'], { env: { ...process.env, ...env } });
  const sw = summarize(whole);
  const d = down.length ? [...down].sort((a, b) => a - b)[down.length >> 1] : null;
  rows.push({
    section: 'memory and downtime',
    case: 'downtime, default mode, 1 consumer', ours: d, oursRssMb: mb(sw.peakRssKb), peers: [{ name: 'ours, whole run', value: sw.wallMs }],
    note: 'pause_interval 1 s included; the original kept consumers down for the whole dump',
  });
  record('downtime', { downtimeMs: down, whole: sw });
}

/** The CSV2-shaped site: one run against the original's way, and an unchanged rerun. */
async function siteCases(admin: Connection, base: DbCredentials, args: BenchArgs, scratch: string, credsDir: string, rows: Row[], record: Record_, dbs: string[]): Promise<void> {
  const site = siteSql();
  const siteDb = await benchDatabase(admin, base, 'sb_bench_site', credsDir);
  dbs.push(siteDb.name);
  log('building site (~60 tables)');
  await runSql(admin, siteDb.name, site.statements);
  const classes = { global: site.global, local: site.local, ephemeral: site.ephemeral };
  const tables = [...site.global, ...site.local, ...site.ephemeral].sort();

  if (args.only.has('site')) {
    log('case site');
    const o: Sample[] = [];
    const s: Summary[] = [];
    const root = await SteadyRoot.create(siteDb, scratch, classes);
    // The original's git work tree in steady state too: one unmeasured run and commit first.
    const repo = await mkdtemp(join(scratch, 'original-site-'));
    await gitIn(repo, ['init', '-q']);
    await originalSiteRun(siteDb, tables, site.global, repo, scratch);
    try {
      for (let i = 0; i < args.runs; i++) {
        o.push((await root.run(admin, scratch)).sample);
        await root.change(admin, false);
        s.push(await originalSiteRun(siteDb, tables, site.global, repo, scratch));
      }
    } finally {
      await root.remove();
      await rm(repo, { recursive: true, force: true });
    }
    const so = summarize(o);
    const stock = [...s].sort((a, b) => a.wallMs - b.wallMs)[s.length >> 1];
    const name = 'one mariadb-dump per table + git commit';
    rows.push({
      section: 'site',
      case: `site: ${tables.length} tables, one run`, ours: so.wallMs, oursRssMb: mb(so.peakRssKb),
      peers: [{ name, value: stock.wallMs, rssMb: mb(stock.peakRssKb) }],
      goal: { text: '<=0.6x the original way', against: [name], limit: 0.6 },
    });
    record('site', { ours: so, original: s });
  }

  if (args.only.has('unchanged')) {
    log('case unchanged rerun');
    const root = await mkdtemp(join(scratch, 'rerun-'));
    const conf = await writeBenchConfig({ root, db: siteDb, ...classes });
    await ours(conf.file, siteDb, scratch);
    const hostDir = join(conf.csv2Dir, 'bench');
    const o: Sample[] = [];
    let written = 0;
    let commits = 0;
    for (let i = 0; i < args.runs; i++) {
      const before = await mtimes(hostDir);
      const snapshots = new Set(await readdir(conf.userDir));
      const c0 = await commitCount(conf.csv2Dir);
      o.push(await ours(conf.file, siteDb, scratch));
      const after = await mtimes(hostDir);
      let n = 0;
      for (const [p, m] of after) if (before.get(p) !== m) n++;
      n += (await readdir(conf.userDir)).filter((e) => !snapshots.has(e)).length;
      written = Math.max(written, n);
      commits += (await commitCount(conf.csv2Dir)) - c0;
    }
    const so = summarize(o);
    rows.push({ section: 'site', case: 'unchanged rerun (site): time', ours: so.wallMs, oursRssMb: mb(so.peakRssKb), peers: [] });
    rows.push({
      section: 'site',
      case: 'unchanged rerun: files written (and commits)', unit: 'files', ours: written, oursRssMb: null, peers: [],
      note: `${commits} commits; goal 0 / 0: ${written === 0 && commits === 0 ? 'PASS' : 'MISS'}`,
    });
    record('unchanged', { ours: so, filesWritten: written, commits });
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
