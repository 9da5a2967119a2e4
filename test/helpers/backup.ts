/** Running the schema_backup CLI as a subprocess, and writing its configuration, for integration tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gitEnv } from './git';

export const CLI = resolve(__dirname, '../../dist/src/cli/schema_backup.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node dist/src/cli/schema_backup.js ARGS` (npm test builds dist first). */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...gitEnv(), ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? -1, stdout, stderr });
    });
  });
}

export interface ConfigSpec {
  csv2BackupDir: string;
  userDataBackupDir?: string | null;
  stateDir: string;
  credentialsFile: string;
  global?: string[];
  local?: string[];
  ephemeral?: string[];
  ignore?: string[];
  consumers?: string[];
  providers?: string[];
  extra?: string;
}

const list = (names: string[] | undefined) => `[${(names ?? []).map((n) => JSON.stringify(n)).join(', ')}]`;

/** Writes schema_backup.conf into `dir` and returns its path. */
export function writeConfig(dir: string, spec: ConfigSpec): string {
  const lines = [
    `csv2_backup_dir: ${JSON.stringify(spec.csv2BackupDir)}`,
    spec.userDataBackupDir ? `user_data_backup_dir: ${JSON.stringify(spec.userDataBackupDir)}` : '',
    `state_dir: ${JSON.stringify(spec.stateDir)}`,
    `db_config: ${JSON.stringify(spec.credentialsFile)}`,
    `global: ${list(spec.global)}`,
    `local: ${list(spec.local)}`,
    `ephemeral: ${list(spec.ephemeral)}`,
    `ignore: ${list(spec.ignore)}`,
    `consumers: ${list(spec.consumers)}`,
    `providers: ${list(spec.providers)}`,
    'pause_interval: 0',
    spec.extra ?? '',
  ];
  const path = join(dir, 'schema_backup.conf');
  writeFileSync(path, lines.filter(Boolean).join('\n') + '\n');
  return path;
}

/** A CLI run in the background, to watch and signal. */
export interface CliChild {
  child: ChildProcess;
  /** What it wrote to stderr so far. */
  stderr(): string;
  done: Promise<CliResult & { signal: NodeJS.Signals | null }>;
}

const started: ChildProcess[] = [];

/** Starts the CLI as a child; killStartedClis() ends the ones still running (call it in afterEach). */
export function startCli(args: string[], env: NodeJS.ProcessEnv): CliChild {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...gitEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  const done = new Promise<CliResult & { signal: NodeJS.Signals | null }>((res, rej) => {
    child.on('error', rej);
    child.on('close', (code, signal) => res({ code: code ?? -1, signal, stdout, stderr }));
  });
  return { child, stderr: () => stderr, done };
}

export function killStartedClis(): void {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

/** Polls `pred` until it holds; throws naming `what` after `ms`. */
export async function until(what: string, pred: () => Promise<boolean> | boolean, ms = 20000, every = 20): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`not reached in time: ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
