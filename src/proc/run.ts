/**
 * The process runner: systemctl, the systemd-notify binary, git with a private
 * index and the mariadb client in tests go through here, so secrets policy and
 * timeouts live in one spot: arguments must never carry a password;
 * credentials travel in a 0600 option file or on stdin. Two libraries spawn
 * their own, each confined to one module (test/unit/architecture.test.ts):
 * simple-git in src/git/repo.ts, the systemd-notify package in src/daemon/notify.ts.
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { CommandError } from '../errors';

export interface RunOptions {
  /** Kill the process (SIGKILL) after this many milliseconds. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to the child's stdin, then closed. */
  input?: string | Buffer;
  /** Path of a file streamed to the child's stdin (used to load dumps). */
  inputFile?: string;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; rejects with CommandError on a non-zero exit, a spawn failure or a timeout. */
export async function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const result = await runAllowingFailure(command, args, options);
  if (result.code !== 0) {
    throw new CommandError(command, args, result.code, result.stdout, result.stderr);
  }
  return result;
}

/** Like run(), but a non-zero exit code is returned rather than thrown (e.g. `systemctl is-active`). */
export function runAllowingFailure(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = options.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, options.timeoutMs)
      : undefined;
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(new CommandError(command, args, null, '', '', `could not be started (${e.message})`));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (timedOut) {
        reject(new CommandError(command, args, null, stdout, stderr, `timed out after ${options.timeoutMs} ms`));
        return;
      }
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.on('error', () => undefined); // a child that exits early closes its stdin: not our error
    if (options.inputFile) {
      const file = options.inputFile;
      const input = createReadStream(file);
      // An unreadable file is this run's error (not an unhandled 'error' event): the child is stopped, the run rejects.
      input.on('error', (e) => {
        if (timer) clearTimeout(timer);
        child.kill('SIGKILL');
        reject(new CommandError(command, args, null, '', '', `could not read its input ${file} (${e.message})`));
      });
      input.pipe(child.stdin);
    } else {
      child.stdin.end(options.input ?? '');
    }
  });
}
