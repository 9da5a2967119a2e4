/**
 * A backup root in steady state, as on the second and later days: set up with
 * one unmeasured run (git init, first commit, and a warm buffer pool). Before
 * each measured run one row of every table with saved rows changes, so each run
 * writes and keeps a new user-data snapshot and commits its global tables, like
 * a day's run.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readlink, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { measure, type Sample } from './measure';
import { writeBenchConfig, type BenchDb } from './setup';

export const CLI = join(__dirname, '../src/cli/schema_backup.js');
export const RESTORE_CLI = join(__dirname, '../src/cli/schema_restore.js');

export type Classes = { global?: string[]; local?: string[]; ephemeral?: string[] };

/**
 * The environment of an operator's run (the systemd unit's): the shell's NODE_OPTIONS and
 * NODE_EXTRA_CA_CERTS left out. This machine sets NODE_EXTRA_CA_CERTS for its proxy: every
 * Node start then parses the system's CA certificates (40 ms here) before any of our code runs.
 */
export function operatorEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && k !== 'NODE_EXTRA_CA_CERTS'));
  return { ...env, ...extra };
}

const shellQuote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;

/**
 * The CLI as an operator runs it; the credentials stay in their 0600 file. With `terminal`, on a
 * pseudo-terminal (util-linux `script`), where it draws its progress line.
 */
export function ours(config: string, db: BenchDb, scratch: string, opts: { defaultMode?: boolean; env?: NodeJS.ProcessEnv; terminal?: boolean } = {}): Promise<Sample> {
  const args = [CLI, ...(opts.defaultMode ? [] : ['--online']), '--config', config, '--db-config', db.credentialsFile, '--host-name', 'bench'];
  const env = operatorEnv(opts.env);
  if (opts.terminal) return measure('script', ['-qec', [process.execPath, ...args].map(shellQuote).join(' '), '/dev/null'], scratch, { env });
  return measure(process.execPath, args, scratch, { env });
}

/** Statements that change one row of a table; the default moves the last integer key `id` up by one. */
export type Touches = Record<string, string>;
const touchOf = (touches: Touches, table: string) => touches[table] ?? `UPDATE \`${table}\` SET id = id + 1 ORDER BY id DESC LIMIT 1`;

export class SteadyRoot {
  private constructor(
    private readonly root: string,
    readonly conf: { file: string; csv2Dir: string; userDir: string },
    private readonly db: BenchDb,
    private readonly changing: string[],
    private readonly touches: Touches,
  ) {}

  static async create(db: BenchDb, scratch: string, classes: Classes, opts: { env?: NodeJS.ProcessEnv; touches?: Touches } = {}): Promise<SteadyRoot> {
    const root = await mkdtemp(join(scratch, 'run-'));
    const conf = await writeBenchConfig({ root, db, ...classes });
    const r = new SteadyRoot(root, conf, db, [...(classes.global ?? []), ...(classes.local ?? [])], opts.touches ?? {});
    await ours(conf.file, db, scratch, { env: opts.env });
    return r;
  }

  /**
   * A changed row per table. With `nextSecond`, then a pause into the next second: snapshot names have a
   * resolution of one second and a run waits for a fresh one (peers are measured after the same change, without it).
   */
  async change(admin: Connection, nextSecond = true): Promise<void> {
    await admin.query(`USE \`${this.db.name}\``);
    for (const t of this.changing) await admin.query(touchOf(this.touches, t));
    if (nextSecond) await new Promise((r) => setTimeout(r, 1020 - (Date.now() % 1000)));
  }

  /** One measured run after a change; returns it and the size of the first local table's file. */
  async run(admin: Connection, scratch: string, opts: { env?: NodeJS.ProcessEnv; terminal?: boolean } = {}): Promise<{ sample: Sample; bytes: number }> {
    await this.change(admin);
    const sample = await ours(this.conf.file, this.db, scratch, opts);
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
