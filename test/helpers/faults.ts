/**
 * Helpers of the fault and abuse suite (test/faults): a "site" (test database,
 * backup directories, config, fake systemctl with a real consumer), the CLI as
 * a subprocess that can be signalled, snapshots of everything a backup leaves
 * on disk (to prove a failed run changed nothing), /proc scans for secrets,
 * and small mounts (tmpfs, read-only binds) for storage faults. We run as root.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { dump } from 'js-yaml';
import { run } from '../../src/proc/run';
import { createTestDatabase, type TestDatabase } from './db';
import { createFakeServices, type FakeServices } from './fake-services';
import { gitEnv, gitHead } from './git';
import { tempDir } from './tmp';

export const CLI = resolve(__dirname, '..', '..', 'dist', 'src', 'cli', 'schema_backup.js');
export const CONSUMER_JS = resolve(__dirname, 'consumer.js');
export const CONSUMER_UNIT = 'csv2-consumer';
export const HOST = 'faulthost';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  child: ChildProcess;
  pid: number;
  stderr(): string;
  result: Promise<CliResult>;
  /** Resolves when stderr matches (e.g. a `phase=dumping` debug line); rejects on exit or timeout. */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

export interface CliOptions {
  env?: NodeJS.ProcessEnv;
  /** Run under this umask (octal string, e.g. '000'). */
  umask?: string;
  cwd?: string;
}

/** Starts `node dist/src/cli/schema_backup.js ARGS` as its own process (signals reach it alone). */
export function startCli(args: string[], opts: CliOptions = {}): CliProcess {
  const env = { ...gitEnv(), ...(opts.env ?? {}) };
  const child =
    opts.umask === undefined
      ? spawn(process.execPath, [CLI, ...args], { env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('/bin/sh', ['-c', `umask ${opts.umask} && exec "$0" "$@"`, process.execPath, CLI, ...args], { env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  child.stdout?.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString('utf8');
    for (const w of [...waiters]) if (w.re.test(err)) w.resolve();
  });
  const result = new Promise<CliResult>((res) => {
    child.on('close', (code, signal) => res({ code, signal, stdout: out, stderr: err }));
  });
  return {
    child,
    pid: child.pid as number,
    stderr: () => err,
    result,
    waitForStderr(re, timeoutMs = 30_000) {
      if (re.test(err)) return Promise.resolve();
      return new Promise<void>((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`timed out waiting for ${re} in stderr:\n${err}`)), timeoutMs);
        const w = {
          re,
          resolve: () => {
            clearTimeout(timer);
            waiters.splice(waiters.indexOf(w), 1);
            res();
          },
        };
        waiters.push(w);
        void result.then(() => {
          clearTimeout(timer);
          rej(new Error(`CLI exited before ${re} appeared in stderr:\n${err}`));
        });
      });
    },
  };
}

export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return startCli(args, opts).result;
}

/** Runs `fn` over `items` with at most `n` at a time. */
export async function pool<T, R>(items: readonly T[], n: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Every file (and symlink) under `dir`, relative, sorted; `.git` skipped unless asked. */
export function listFiles(dir: string, opts: { git?: boolean } = {}): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name === '.git' && !opts.git) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  if (existsSync(dir)) walk(dir);
  return out.sort();
}

function hashTree(dir: string, skip: (rel: string) => boolean = () => false): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rel of listFiles(dir)) {
    if (skip(rel)) continue;
    const p = join(dir, rel);
    out[rel] = lstatSync(p).isSymbolicLink() ? `-> ${readlinkSync(p)}` : sha256(readFileSync(p));
  }
  return out;
}

/** What a backup leaves behind, to compare before and after a fault. */
export interface BackupState {
  /** Host dir files (its `.schema_backup/tmp/` left out: never complete files) -> sha256. */
  hostFiles: Record<string, string>;
  head: string | null;
  /** Complete snapshot dirs (YYYYmmddHHMMSS) -> their files -> sha256. */
  snapshots: Record<string, Record<string, string>>;
  latest: string | null;
}

export async function captureState(site: { csv2Dir: string; hostDir: string; userDir: string }): Promise<BackupState> {
  const snapshots: Record<string, Record<string, string>> = {};
  let latest: string | null = null;
  if (existsSync(site.userDir) && statSync(site.userDir).isDirectory()) {
    for (const e of readdirSync(site.userDir, { withFileTypes: true })) {
      if (e.isDirectory() && /^\d{14}$/.test(e.name)) snapshots[e.name] = hashTree(join(site.userDir, e.name));
    }
    try {
      latest = readlinkSync(join(site.userDir, 'latest'));
    } catch {
      latest = null;
    }
  }
  const isRepo = existsSync(join(site.csv2Dir, '.git')) && statSync(join(site.csv2Dir, '.git')).isDirectory();
  return {
    hostFiles: existsSync(site.hostDir) ? hashTree(site.hostDir, (rel) => rel.startsWith('.schema_backup/tmp/')) : {},
    head: isRepo ? await gitHead(site.csv2Dir) : null,
    snapshots,
    latest,
  };
}

/**
 * Nothing half-written may look complete: every snapshot directory under its
 * final name has a manifest whose every file is there with its sha256, and
 * `latest`, when present, names one of them. Returns the problems found.
 */
export function incompleteSnapshots(userDir: string): string[] {
  const problems: string[] = [];
  if (!existsSync(userDir) || !statSync(userDir).isDirectory()) return problems;
  for (const e of readdirSync(userDir, { withFileTypes: true })) {
    if (!e.isDirectory() || !/^\d{14}$/.test(e.name)) continue;
    const dir = join(userDir, e.name);
    let manifest: { tables: { file: string; sha256: string }[] };
    try {
      manifest = JSON.parse(readFileSync(join(dir, '.schema_backup', 'manifest.json'), 'utf8'));
    } catch {
      problems.push(`${dir}: no readable manifest`);
      continue;
    }
    for (const t of manifest.tables) {
      const p = join(dir, t.file);
      if (!existsSync(p)) problems.push(`${p}: listed in the manifest, missing`);
      else if (sha256(readFileSync(p)) !== t.sha256) problems.push(`${p}: sha256 differs from the manifest`);
    }
  }
  try {
    const target = readlinkSync(join(userDir, 'latest'));
    if (!existsSync(join(userDir, target))) problems.push(`latest -> ${target} dangles`);
  } catch {
    // no latest yet
  }
  return problems;
}

/** The host manifest agrees with the host files (a complete set, never a mix of two runs). */
export function hostDirProblems(hostDir: string): string[] {
  const problems: string[] = [];
  const manifestPath = join(hostDir, '.schema_backup', 'manifest.json');
  if (!existsSync(manifestPath)) return existsSync(hostDir) && listFiles(hostDir).some((f) => !f.startsWith('.schema_backup/')) ? ['table files without a manifest'] : [];
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { tables: { file: string; sha256: string }[] };
  const listed = new Set(manifest.tables.map((t) => t.file));
  for (const t of manifest.tables) {
    const p = join(hostDir, t.file);
    if (!existsSync(p)) problems.push(`${t.file}: in the manifest, missing`);
    else if (sha256(readFileSync(p)) !== t.sha256) problems.push(`${t.file}: differs from the manifest`);
  }
  for (const e of readdirSync(hostDir, { withFileTypes: true })) {
    if (e.isFile() && !listed.has(e.name)) problems.push(`${e.name}: not in the manifest`);
  }
  return problems;
}

export interface SiteOptions {
  label: string;
  global?: string[];
  local?: string[];
  ephemeral?: string[];
  ignore?: string[];
  /** Run a real consumer under the fake systemctl (default true). */
  consumer?: boolean;
  pauseInterval?: number;
  /** Use this credentials file instead of the test database's own. */
  credentialsFile?: string;
  /** Extra keys of schema_backup.conf. */
  extra?: Record<string, unknown>;
}

export interface Site {
  root: string;
  csv2Dir: string;
  userDir: string;
  stateDir: string;
  configFile: string;
  hostDir: string;
  db: TestDatabase;
  services: FakeServices | null;
  env: NodeJS.ProcessEnv;
  writeConfig(overrides?: Record<string, unknown>): void;
  /** `--config FILE --host-name faulthost ARGS`. */
  args(extra?: string[]): string[];
  run(extra?: string[], opts?: CliOptions): Promise<CliResult>;
  start(extra?: string[], opts?: CliOptions): CliProcess;
  state(): Promise<BackupState>;
  consumerRunning(): Promise<boolean>;
  cleanup(): Promise<void>;
}

export async function createSite(opts: SiteOptions): Promise<Site> {
  const db = await createTestDatabase(opts.label);
  const root = tempDir(`sbf-${opts.label}-`);
  const csv2Dir = join(root, 'csv2');
  const userDir = join(root, 'user');
  const stateDir = join(root, 'state');
  const configFile = join(root, 'schema_backup.conf');
  const services =
    opts.consumer === false ? null : createFakeServices({ [CONSUMER_UNIT]: `SB_CONSUMER_DATABASE=${db.name} exec ${process.execPath} ${CONSUMER_JS}` });
  if (services) await services.start(CONSUMER_UNIT);
  const base: Record<string, unknown> = {
    csv2_backup_dir: csv2Dir,
    user_data_backup_dir: userDir,
    state_dir: stateDir,
    db_config: opts.credentialsFile ?? db.credentialsFile,
    pause_interval: opts.pauseInterval ?? 0,
    systemctl_timeout: 30,
    ...(services ? { consumers: [CONSUMER_UNIT] } : {}),
    ...(opts.global ? { global: opts.global } : {}),
    ...(opts.local ? { local: opts.local } : {}),
    ...(opts.ephemeral ? { ephemeral: opts.ephemeral } : {}),
    ...(opts.ignore ? { ignore: opts.ignore } : {}),
    ...(opts.extra ?? {}),
  };
  const env = { ...gitEnv(), ...(services?.env ?? {}) };
  const site: Site = {
    root,
    csv2Dir,
    userDir,
    stateDir,
    configFile,
    hostDir: join(csv2Dir, HOST),
    db,
    services,
    env,
    writeConfig(overrides = {}) {
      const merged = { ...base, ...overrides };
      for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
      writeFileSync(configFile, dump(merged));
    },
    args: (extra = []) => ['--config', configFile, '--host-name', HOST, ...extra],
    run: (extra = [], o = {}) => runCli(site.args(extra), { ...o, env: { ...env, ...(o.env ?? {}) } }),
    start: (extra = [], o = {}) => startCli(site.args(extra), { ...o, env: { ...env, ...(o.env ?? {}) } }),
    state: () => captureState(site),
    consumerRunning: async () => (services ? services.isRunning(CONSUMER_UNIT) : true),
    async cleanup() {
      await services?.cleanup();
      await db.drop();
    },
  };
  site.writeConfig();
  return site;
}

/** The process and its descendants, from /proc (field 4 of stat is the parent). */
export function processTree(rootPid: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(name), Number(fields[1]));
    } catch {
      // gone meanwhile
    }
  }
  const tree = new Set([rootPid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (!tree.has(pid) && tree.has(ppid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  return [...tree];
}

export interface SecretScan {
  /** Distinct command lines seen in the tree (NUL as space). */
  commands: Set<string>;
  /** Scans that found the needle: where. */
  hits: string[];
  rounds: number;
}

/** Scans cmdline and environ of rootPid's process tree, over and over, until stop() is called. */
export function scanProcessTree(rootPid: number, needle: string): { stop(): Promise<SecretScan> } {
  const scan: SecretScan = { commands: new Set(), hits: [], rounds: 0 };
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const pid of processTree(rootPid)) {
        for (const what of ['cmdline', 'environ'] as const) {
          let text: string;
          try {
            text = readFileSync(`/proc/${pid}/${what}`).toString('latin1');
          } catch {
            continue;
          }
          if (what === 'cmdline' && text) scan.commands.add(text.replace(/\0/g, ' ').trim());
          if (text.includes(needle)) scan.hits.push(`/proc/${pid}/${what}: ${text.replace(/\0/g, ' ').slice(0, 200)}`);
        }
      }
      scan.rounds++;
      await new Promise((r) => setImmediate(r));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return scan;
    },
  };
}

/** Mounts a tmpfs of `size` (e.g. '2m') on dir (created if needed). */
export async function mountTmpfs(dir: string, size: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await run('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir]);
}

export async function remount(dir: string, options: string): Promise<void> {
  await run('mount', ['-o', `remount,${options}`, dir]);
}

/** A read-only view of dir on itself (root ignores permission bits, not a read-only mount). */
export async function bindReadOnly(dir: string): Promise<void> {
  await run('mount', ['--bind', dir, dir]);
  await run('mount', ['-o', 'remount,bind,ro', dir]);
}

export async function unmount(dir: string): Promise<void> {
  await run('umount', [dir]).catch(() => run('umount', ['-l', dir]));
}

/** A stack trace on stderr (`    at fn (file:line)`), which an operator must never see for bad input. */
export const STACK_TRACE = /^\s+at .+(\(|:\d+:\d+)/m;
