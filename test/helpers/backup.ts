/** Running the schema_backup CLI as a subprocess, and writing its configuration, for integration tests. */
import { spawn } from 'node:child_process';
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
