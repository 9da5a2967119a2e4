/**
 * `npm run bench`: schema_backup's dump engine against the stock tools, in one
 * run, on a private MariaDB (or the server of `--db-config FILE`). Each case
 * runs several times (`--runs N`, default 3); the table shows medians, the
 * ratio to the stock tool measured in the same run, and peak RSS from GNU time.
 * Results also go to bench/results.json.
 *
 *   npm run bench [-- --runs 3] [--rows 1000000] [--db-config FILE] [--only big,site,...] [--keep]
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { startPrivateServer, type PrivateServer } from '../scripts/lib/mariadb-server';
import { loadCredentials } from '../src/config/credentials';
import type { DbCredentials } from '../src/config/types';
import { run } from '../src/proc/run';
import { bigTableSql, siteSql } from './datasets';
import { haveGnuTime, measure, measureToNull, summarize, type Sample, type Summary } from './measure';
import { renderTable, type Row } from './report';
import { adminConnection, benchDatabase, credentialFiles, runSql, writeBenchConfig, type BenchDb } from './setup';

const ROOT = resolve(__dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli/schema_backup.js');
const RESTORE_RUN = join(ROOT, 'dist/bench/restore-run.js');
const FAKE_SYSTEMCTL = join(ROOT, 'test/helpers/fake-systemctl');
const RESULTS = join(ROOT, 'bench/results.json');
const CASES = ['big', 'socket', 'parallel', 'memory', 'site', 'unchanged', 'downtime', 'restore'] as const;

interface Args {
  runs: number;
  rows: number;
  dbConfig?: string;
  only: Set<string>;
  keep: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { runs: 3, rows: 1_000_000, only: new Set(CASES), keep: false };
  for (let i = 0; i < argv.length; i++) {
    const v = () => argv[++i] ?? '';
    switch (argv[i]) {
      case '--runs': args.runs = Math.max(1, Number(v())); break;
      case '--rows': args.rows = Math.max(1000, Number(v())); break;
      case '--db-config': args.dbConfig = v(); break;
      case '--only': args.only = new Set(v().split(',')); break;
      case '--keep': args.keep = true; break;
      default: throw new Error(`unknown argument ${argv[i]} (see the header of bench/bench.ts)`);
    }
  }
  return args;
}

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const mb = (kb: number | null) => (kb === null ? null : kb / 1024);
const ratio = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? null : a / b);

/** The CLI as an operator runs it; the credentials stay in their 0600 file. */
function ours(config: string, db: BenchDb, scratch: string, opts: { defaultMode?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<Sample> {
  return measure(process.execPath, [CLI, ...(opts.defaultMode ? [] : ['--online']), '--config', config, '--db-config', db.credentialsFile, '--host-name', 'bench'], scratch, {
    env: { ...process.env, ...opts.env },
  });
}

function mariadbDump(db: BenchDb, table: string, out: string, scratch: string, noData = false): Promise<Sample> {
  return measure(
    'mariadb-dump',
    [`--defaults-extra-file=${db.clientFile}`, '--single-transaction', '--skip-dump-date', '--order-by-primary', ...(noData ? ['--no-data'] : []), `--result-file=${out}`, db.name, table],
    scratch,
  );
}

type Classes = { global?: string[]; local?: string[]; ephemeral?: string[] };

/**
 * A backup root in steady state, as on the second and later days: set up with
 * one unmeasured run (git init, first commit). Before each measured run one
 * row of every table with saved rows changes, so each run writes and keeps a
 * new user-data snapshot and commits its global tables, like a day's run.
 */
class SteadyRoot {
  private constructor(
    private readonly root: string,
    readonly conf: { file: string; csv2Dir: string; userDir: string },
    private readonly db: BenchDb,
    private readonly changing: string[],
  ) {}

  static async create(db: BenchDb, scratch: string, classes: Classes, env?: NodeJS.ProcessEnv): Promise<SteadyRoot> {
    const root = await mkdtemp(join(scratch, 'run-'));
    const conf = await writeBenchConfig({ root, db, ...classes });
    const r = new SteadyRoot(root, conf, db, [...(classes.global ?? []), ...(classes.local ?? [])]);
    await ours(conf.file, db, scratch, { env });
    return r;
  }

  /**
   * A changed row per table (the last key moves up by one; every bench table has an integer key `id`), then a
   * pause into the next second. The stock tool is measured after the same change: both read a freshly changed table.
   */
  async change(admin: Connection): Promise<void> {
    await admin.query(`USE \`${this.db.name}\``);
    for (const t of this.changing) await admin.query(`UPDATE \`${t}\` SET id = id + 1 ORDER BY id DESC LIMIT 1`);
    // Snapshot names have a resolution of one second and a run waits for a fresh one: never start in the second of the last.
    await new Promise((r) => setTimeout(r, 1020 - (Date.now() % 1000)));
  }

  /** One measured run after a change; returns it and the size of the first local table's file. */
  async run(admin: Connection, scratch: string, env?: NodeJS.ProcessEnv): Promise<{ sample: Sample; bytes: number }> {
    await this.change(admin);
    const sample = await ours(this.conf.file, this.db, scratch, { env });
    const latest = join(this.conf.userDir, 'latest');
    const local = this.changing.find((t) => existsSync(join(latest, t)) && !t.startsWith('csv2_global'));
    const bytes = local ? (await stat(join(latest, local))).size : 0;
    // Older snapshots are not part of the measure; keep the disk from filling up.
    const keep = await readlink(latest);
    for (const e of await readdir(this.conf.userDir)) if (e !== 'latest' && e !== keep && /^\d{14}$/.test(e)) await rm(join(this.conf.userDir, e), { recursive: true, force: true });
    return { sample, bytes };
  }

  async remove(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}

/** `runs` measured runs of ours on one steady-state root. */
async function steadyRuns(admin: Connection, db: BenchDb, scratch: string, classes: Classes, runs: number, env?: NodeJS.ProcessEnv) {
  const root = await SteadyRoot.create(db, scratch, classes, env);
  const samples: Sample[] = [];
  let bytes = 0;
  try {
    for (let i = 0; i < runs; i++) {
      const r = await root.run(admin, scratch, env);
      samples.push(r.sample);
      bytes = r.bytes;
    }
  } finally {
    await root.remove();
  }
  return { samples, bytes };
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

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (!haveGnuTime()) log('/usr/bin/time is missing (Debian: apt-get install time): peak RSS will not be reported');
  const scratch = await mkdtemp(join(tmpdir(), 'sb-bench-'));
  let server: PrivateServer | null = null;
  let base: DbCredentials;
  let socketBase: DbCredentials | null = null;
  if (args.dbConfig) {
    base = loadCredentials({ cliPath: args.dbConfig, configured: null });
  } else {
    log('starting a private MariaDB');
    server = await startPrivateServer();
    // Both tools connect the same way: TCP to 127.0.0.1, as CSV2's db_host configurations do (the socket case measures the other way).
    base = { host: server.host, port: server.port, socketPath: null, user: server.user, password: server.password, database: '', source: 'private server' };
    socketBase = { ...base, host: 'localhost', socketPath: server.socket };
  }
  const admin = await adminConnection(base);
  const dbs: BenchDb[] = [];
  const rows: Row[] = [];
  const json: Record<string, unknown> = { startedAt: new Date().toISOString(), runs: args.runs, rows: args.rows, host: { cpus: (await import('node:os')).cpus().length }, cases: {} };
  const record = (name: string, data: unknown) => ((json.cases as Record<string, unknown>)[name] = data);
  const want = (c: string) => args.only.has(c);
  try {
    const credsDir = join(scratch, 'credentials');
    const big = await benchDatabase(admin, base, 'sb_bench_big', credsDir);
    dbs.push(big);
    let bigRss: number | null = null;
    let stockDumpFile: string | null = null;
    const bigRowsFile = join(scratch, 'big-ours');

    if (want('big') || want('socket') || want('parallel') || want('memory') || want('downtime') || want('restore')) {
      log(`building big (${args.rows} rows)`);
      await runSql(admin, big.name, bigTableSql('big', args.rows));
    }

    if (want('big') || want('restore')) {
      log('case big table');
      const o: Sample[] = [];
      const s: Sample[] = [];
      const r: Sample[] = [];
      let ourBytes = 0;
      let stockBytes = 0;
      stockDumpFile = join(scratch, 'big-stock.sql');
      const root = await SteadyRoot.create(big, scratch, { local: ['big'] });
      for (let i = 0; i < args.runs; i++) {
        const mine = await root.run(admin, scratch);
        o.push(mine.sample);
        ourBytes = mine.bytes;
        await rm(stockDumpFile, { force: true });
        await root.change(admin);
        s.push(await mariadbDump(big, 'big', stockDumpFile, scratch));
        stockBytes = (await stat(stockDumpFile)).size;
        r.push(await measureToNull('mariadb', [`--defaults-extra-file=${big.clientFile}`, '--quick', '-N', '-B', '-e', 'SELECT * FROM big', big.name], scratch));
      }
      await root.remove();
      const [so, ss, sr] = [summarize(o), summarize(s), summarize(r)];
      bigRss = so.peakRssKb;
      const perSec = (n: number, x: Summary) => n / (x.wallMs / 1000);
      const rt = ratio(so.wallMs, ss.wallMs);
      rows.push({
        case: `big table, ${args.rows} rows`,
        ours: so.wallMs, stock: ss.wallMs, ratio: rt, peakRssMb: mb(so.peakRssKb), stockPeakRssMb: mb(ss.peakRssKb),
        target: '<=0.8x (floor 1.0x), RSS<=150MB', pass: rt !== null && rt <= 1.0 && (mb(so.peakRssKb) ?? 0) <= 150,
        note: `ours ${Math.round(perSec(args.rows, so))} rows/s ${(perSec(ourBytes, so) / 1e6).toFixed(0)} MB/s; stock ${Math.round(perSec(args.rows, ss))} rows/s ${(perSec(stockBytes, ss) / 1e6).toFixed(0)} MB/s`,
      });
      const rl = ratio(so.wallMs, sr.wallMs);
      rows.push({
        case: 'big table vs read limit (mariadb --quick -N -B)',
        ours: so.wallMs, stock: sr.wallMs, ratio: rl, peakRssMb: mb(so.peakRssKb), stockPeakRssMb: mb(sr.peakRssKb),
        target: '<=1.5x', pass: rl !== null && rl <= 1.5,
      });
      record('big', { ours: so, stock: ss, readLimit: sr, ourBytes, stockBytes, cpuMs: { ours: so.cpuMs, stock: ss.cpuMs } });
    }

    /** The big table, ours against mariadb-dump, both after the same fresh change, `args.runs` times. */
    const bigAgainstStock = async (name: string, caseLabel: string, db: BenchDb, env?: NodeJS.ProcessEnv): Promise<void> => {
      const o: Sample[] = [];
      const s: Sample[] = [];
      const root = await SteadyRoot.create(db, scratch, { local: ['big'] }, env);
      for (let i = 0; i < args.runs; i++) {
        o.push((await root.run(admin, scratch, env)).sample);
        await root.change(admin);
        const out = join(scratch, `big-stock-${name}.sql`);
        s.push(await mariadbDump(db, 'big', out, scratch));
        await rm(out, { force: true });
      }
      await root.remove();
      const [so, ss] = [summarize(o), summarize(s)];
      rows.push({ case: caseLabel, ours: so.wallMs, stock: ss.wallMs, ratio: ratio(so.wallMs, ss.wallMs), peakRssMb: mb(so.peakRssKb), stockPeakRssMb: mb(ss.peakRssKb) });
      record(name, { ours: so, stock: ss });
    };

    if (want('socket') && socketBase) {
      log('case big table over the unix socket (both tools)');
      await bigAgainstStock('socket', 'big table over the unix socket (both tools)', await credentialFiles(socketBase, big.name, credsDir, `${big.name}-socket`));
    }

    if (want('parallel')) {
      log('case big table over 3 connections (SCHEMA_BACKUP_READERS=3)');
      await bigAgainstStock('parallel', 'big table, 3 connections (opt-in)', big, { SCHEMA_BACKUP_READERS: '3' });
    }

    if (want('memory')) {
      log('case memory flatness (100,000 rows)');
      const mid = await benchDatabase(admin, base, 'sb_bench_mid', credsDir);
      dbs.push(mid);
      const smallRows = Math.round(args.rows / 10);
      await runSql(admin, mid.name, bigTableSql('big', smallRows));
      const so = summarize((await steadyRuns(admin, mid, scratch, { local: ['big'] }, args.runs)).samples);
      if (bigRss === null) bigRss = summarize((await steadyRuns(admin, big, scratch, { local: ['big'] }, args.runs)).samples).peakRssKb;
      const rt = ratio(bigRss, so.peakRssKb);
      rows.push({
        case: `peak RSS: ${args.rows} vs ${smallRows} rows`, unit: 'MB', ours: mb(bigRss), stock: mb(so.peakRssKb), ratio: rt, peakRssMb: mb(bigRss),
        target: '<=1.2x', pass: rt !== null && rt <= 1.2, note: '"stock" column: ours on the 10x smaller table',
      });
      record('memory', { bigPeakRssKb: bigRss, smallPeakRssKb: so.peakRssKb, small: so });
    }

    const site = siteSql();
    const siteDb = await benchDatabase(admin, base, 'sb_bench_site', credsDir);
    dbs.push(siteDb);
    if (want('site') || want('unchanged')) {
      log('building site (~60 tables)');
      await runSql(admin, siteDb.name, site.statements);
    }
    const classes = { global: site.global, local: site.local, ephemeral: site.ephemeral };

    if (want('site')) {
      log('case site');
      const o: Sample[] = [];
      const s: Summary[] = [];
      const tables = [...site.global, ...site.local, ...site.ephemeral].sort();
      const root = await SteadyRoot.create(siteDb, scratch, classes);
      for (let i = 0; i < args.runs; i++) {
        o.push((await root.run(admin, scratch)).sample);
        // The original tool's way: one mariadb-dump per table, rows only for the global ones, in sequence.
        const dir = await mkdtemp(join(scratch, 'stock-site-'));
        await root.change(admin);
        const t0 = process.hrtime.bigint();
        const each: Sample[] = [];
        for (const t of tables) each.push(await mariadbDump(siteDb, t, join(dir, t), scratch, !site.global.includes(t)));
        const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
        const rss = each.map((x) => x.peakRssKb ?? 0);
        s.push({ wallMs, peakRssKb: Math.max(...rss), cpuMs: each.reduce((n, x) => n + (x.cpuMs ?? 0), 0), runsMs: [] });
        await rm(dir, { recursive: true, force: true });
      }
      await root.remove();
      const so = summarize(o);
      const stockWall = [...s].sort((a, b) => a.wallMs - b.wallMs)[s.length >> 1];
      const rt = ratio(so.wallMs, stockWall.wallMs);
      rows.push({
        case: `site: ${tables.length} tables, one run vs one mariadb-dump per table`, ours: so.wallMs, stock: stockWall.wallMs, ratio: rt,
        peakRssMb: mb(so.peakRssKb), stockPeakRssMb: mb(stockWall.peakRssKb), target: '<=0.6x', pass: rt !== null && rt <= 0.6,
      });
      record('site', { ours: so, stock: s });
    }

    if (want('unchanged')) {
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
      rows.push({ case: 'unchanged rerun (site): time', ours: so.wallMs, stock: null, ratio: null, peakRssMb: mb(so.peakRssKb) });
      rows.push({ case: 'unchanged rerun: files written / commits', unit: 'files', ours: written, stock: null, ratio: null, peakRssMb: null, target: '0 / 0', pass: written === 0 && commits === 0, note: `${commits} commits` });
      record('unchanged', { ours: so, filesWritten: written, commits });
      await rm(root, { recursive: true, force: true });
    }

    if (want('downtime')) {
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
        case: 'downtime, default mode, 1 consumer (stock: whole run)', ours: d, stock: sw.wallMs, ratio: ratio(d, sw.wallMs), peakRssMb: mb(sw.peakRssKb),
        note: 'pause_interval 1 s included; the original kept consumers down for the whole dump',
      });
      record('downtime', { downtimeMs: down, whole: sw });
    }

    if (want('restore') && existsSync(RESTORE_RUN) && stockDumpFile) {
      log('case restore');
      const root = await mkdtemp(join(scratch, 'restore-'));
      const conf = await writeBenchConfig({ root, db: big, local: ['big'] });
      await ours(conf.file, big, scratch);
      await run('cp', [join(conf.userDir, 'latest', 'big'), bigRowsFile]);
      const o: Sample[] = [];
      const s: Sample[] = [];
      // The restore engine is another part's work in progress: its failure is reported, not fatal to the benchmark.
      try {
      for (let i = 0; i < args.runs; i++) {
        const target = await benchDatabase(admin, base, 'sb_bench_restore', credsDir);
        const argsFile = join(scratch, 'restore-args.json');
        await writeFile(argsFile, JSON.stringify({ credentialsFile: target.credentialsFile, database: target.name, files: [bigRowsFile] }), { mode: 0o600 });
        o.push(await measure(process.execPath, [RESTORE_RUN, argsFile], scratch));
        const stockTarget = await benchDatabase(admin, base, 'sb_bench_restore', credsDir);
        s.push(await measure('mariadb', [`--defaults-extra-file=${stockTarget.clientFile}`, stockTarget.name], scratch, { inputFile: stockDumpFile }));
      }
      const [so, ss] = [summarize(o), summarize(s)];
      rows.push({ case: 'restore big table vs mariadb DB < dump.sql', ours: so.wallMs, stock: ss.wallMs, ratio: ratio(so.wallMs, ss.wallMs), peakRssMb: mb(so.peakRssKb), stockPeakRssMb: mb(ss.peakRssKb) });
      record('restore', { ours: so, stock: ss });
      } catch (err) {
        const message = err instanceof Error ? err.message.split('\n').slice(-2).join(' ') : String(err);
        log(`restore case failed: ${message}`);
        rows.push({ case: 'restore big table vs mariadb DB < dump.sql', ours: null, stock: null, ratio: null, peakRssMb: null, note: `failed: ${message.slice(0, 160)}` });
        record('restore', { error: message });
      }
      await admin.query('DROP DATABASE IF EXISTS sb_bench_restore');
      await rm(root, { recursive: true, force: true });
    }
  } finally {
    if (!args.keep) for (const db of dbs) await admin.query(`DROP DATABASE IF EXISTS \`${db.name}\``).catch(() => undefined);
    await admin.end().catch(() => undefined);
    if (server) await server.stop();
    if (!args.keep) await rm(scratch, { recursive: true, force: true });
  }
  const table = renderTable(rows);
  process.stdout.write(table);
  json.finishedAt = new Date().toISOString();
  json.table = rows;
  await writeFile(RESULTS, JSON.stringify(json, null, 2) + '\n');
  log(`results written to ${RESULTS}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
