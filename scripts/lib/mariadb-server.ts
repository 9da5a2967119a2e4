/**
 * A private, throwaway MariaDB server for the demo, the benchmark and fault
 * tests that must kill a server (the shared one is never touched).
 *
 * Everything (datadir, socket, pid file, error log, tmpdir) lives under one
 * base directory. install-db is a short command and goes through
 * src/proc/run.ts like every other process. mariadbd itself is the exception:
 * run() waits for exit and buffers output, while a server has to outlive the
 * call that starts it and must not pin the caller's event loop. So it is
 * spawned here, detached and unref'd, with its output going to files. This is
 * tooling, not product code; the product never starts servers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { run } from '../../src/proc/run';
import { DatabaseError, errorMessage } from '../../src/errors';
import { findExecutable } from './find-executable';
import { freePort } from './free-port';
import { waitForServer } from './wait-for-server';

export { waitForServer, type ServerLogin } from './wait-for-server';

export interface PrivateServer {
  host: '127.0.0.1';
  port: number;
  socket: string;
  datadir: string;
  baseDir: string;
  /** Pid of the running mariadbd (changes on restart()). */
  pid: number;
  user: 'root';
  password: '';
  /** Clean shutdown (SIGTERM, then SIGKILL if it hangs); removes baseDir unless `keep`. Idempotent. */
  stop(): Promise<void>;
  /** Hard kill (SIGKILL by default); waits until the process is gone. Leaves the files. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts again on the same datadir, port and socket (a running server is stopped cleanly first). */
  restart(): Promise<void>;
}

export interface StartOptions {
  /** Where to put everything; a fresh temp dir when omitted. An initialised datadir in it is reused. */
  baseDir?: string;
  /** Keep baseDir on stop(). */
  keep?: boolean;
  /** Appended to the mariadbd command line. */
  extraArgs?: string[];
  /** How long to wait for the server to answer, ms (default 30 000). */
  startTimeoutMs?: number;
}

const STOP_GRACE_MS = 60_000;
const KILL_WAIT_MS = 10_000;
const PORT_ATTEMPTS = 3;
/** sun_path is 108 bytes on Linux. */
const MAX_SOCKET_PATH = 107;

export async function startPrivateServer(opts: StartOptions = {}): Promise<PrivateServer> {
  const baseDir = opts.baseDir ?? (await mkdtemp(join(tmpdir(), 'sb-mariadb-')));
  try {
    const server = new Server(baseDir, opts);
    await server.init();
    await server.firstStart();
    return server;
  } catch (err) {
    if (!opts.baseDir && !opts.keep) await rm(baseDir, { recursive: true, force: true });
    throw err;
  }
}

class Server implements PrivateServer {
  readonly host = '127.0.0.1' as const;
  readonly user = 'root' as const;
  readonly password = '' as const;
  readonly socket: string;
  readonly datadir: string;
  port = 0;
  pid = 0;
  private child: ChildProcess | null = null;
  private exited = true;
  private exitInfo = '';
  private readonly errorLog: string;
  private readonly stderrLog: string;
  private readonly tmp: string;
  private readonly pidFile: string;
  private readonly osUser = userInfo().username;

  constructor(
    readonly baseDir: string,
    private readonly opts: StartOptions,
  ) {
    this.datadir = join(baseDir, 'data');
    this.socket = join(baseDir, 'mysqld.sock');
    this.errorLog = join(baseDir, 'error.log');
    this.stderrLog = join(baseDir, 'mariadbd.stderr');
    this.tmp = join(baseDir, 'tmp');
    this.pidFile = join(baseDir, 'mysqld.pid');
    if (this.socket.length > MAX_SOCKET_PATH) {
      throw new DatabaseError(`socket path too long for a unix socket (${this.socket.length} bytes): ${this.socket}`);
    }
  }

  /** Creates the directories and, unless the datadir already holds a server, the system tables. */
  async init(): Promise<void> {
    await mkdir(this.tmp, { recursive: true });
    if (existsSync(join(this.datadir, 'mysql'))) return;
    await mkdir(this.datadir, { recursive: true });
    const installDb = findExecutable(['mariadb-install-db', 'mysql_install_db']);
    if (!installDb) throw new DatabaseError('neither mariadb-install-db nor mysql_install_db was found');
    await run(
      installDb,
      [
        '--no-defaults',
        `--datadir=${this.datadir}`,
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
        `--user=${this.osUser}`,
      ],
      { timeoutMs: 120_000 },
    );
  }

  /** The kernel-chosen port can be taken between our probe and mariadbd's bind: retry with another. */
  async firstStart(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      this.port = await freePort();
      try {
        await this.launch();
        return;
      } catch (err) {
        if (attempt >= PORT_ATTEMPTS || !/Address already in use|Bind on TCP\/IP port/.test(this.logTail())) throw err;
      }
    }
  }

  async restart(): Promise<void> {
    if (!this.exited) await this.shutdown();
    if (!existsSync(this.datadir)) throw new DatabaseError(`cannot restart: ${this.datadir} is gone (stopped without keep?)`);
    await this.launch();
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.exited) return;
    this.signal(signal);
    if (!(await this.waitForExit(KILL_WAIT_MS))) {
      this.signal('SIGKILL');
      await this.waitForExit(KILL_WAIT_MS);
    }
  }

  async stop(): Promise<void> {
    await this.shutdown();
    if (!this.opts.keep) await rm(this.baseDir, { recursive: true, force: true });
  }

  private async shutdown(): Promise<void> {
    if (this.exited) return;
    this.signal('SIGTERM');
    if (await this.waitForExit(STOP_GRACE_MS)) return;
    await this.kill('SIGKILL');
  }

  private async launch(): Promise<void> {
    const mariadbd = findExecutable(['mariadbd', 'mysqld']);
    if (!mariadbd) throw new DatabaseError('neither mariadbd nor mysqld was found');
    const args = [
      '--no-defaults', // must come first: keeps /etc/mysql out
      `--datadir=${this.datadir}`,
      `--socket=${this.socket}`,
      `--port=${this.port}`,
      '--bind-address=127.0.0.1',
      `--pid-file=${this.pidFile}`,
      `--log-error=${this.errorLog}`,
      `--tmpdir=${this.tmp}`,
      '--skip-name-resolve',
      '--innodb-buffer-pool-size=256M',
      '--innodb-log-file-size=64M',
      `--user=${this.osUser}`, // required when running as root
      ...(this.opts.extraArgs ?? []),
    ];
    // Option errors are printed before --log-error takes over, so stderr goes to a file too.
    const out = openSync(this.stderrLog, 'a');
    let child: ChildProcess;
    try {
      child = spawn(mariadbd, args, { detached: true, stdio: ['ignore', out, out] });
    } finally {
      closeSync(out);
    }
    this.child = child;
    this.exited = false;
    this.exitInfo = '';
    child.on('error', (e) => {
      this.exited = true;
      this.exitInfo = `could not be started (${e.message})`;
    });
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.exited = true;
      this.exitInfo = signal ? `killed by ${signal}` : `exited with ${code}`;
    });
    child.unref();
    this.pid = child.pid ?? 0;

    try {
      const abort = (): string | null => (this.exited ? `mariadbd ${this.exitInfo}` : null);
      const timeout = this.opts.startTimeoutMs ?? 30_000;
      // root@localhost is only reachable over the socket (--skip-name-resolve), so come in that way first.
      await waitForServer({ socketPath: this.socket, user: 'root', password: '' }, timeout, abort);
      await this.allowTcpRoot();
      await waitForServer({ host: this.host, port: this.port, user: 'root', password: '' }, 5_000, abort);
    } catch (err) {
      await this.kill('SIGKILL');
      throw new DatabaseError(`private mariadbd failed to start (${errorMessage(err)}); log tail:\n${this.logTail()}`, {
        cause: err,
      });
    }
  }

  /** install-db usually creates root@127.0.0.1 already; make sure, since TCP logins depend on it. */
  private async allowTcpRoot(): Promise<void> {
    const conn = await createConnection({ socketPath: this.socket, user: 'root', password: '' });
    try {
      await conn.query("CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY ''");
      await conn.query("GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION");
    } finally {
      await conn.end().catch(() => undefined);
    }
  }

  private signal(sig: NodeJS.Signals): void {
    try {
      process.kill(this.pid, sig);
    } catch {
      // already gone
    }
  }

  /** Polls rather than awaiting the exit event alone: the timer keeps an unref'd child's exit deliverable. */
  private async waitForExit(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.exited) {
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
    return true;
  }

  private logTail(lines = 40): string {
    const parts: string[] = [];
    for (const file of [this.stderrLog, this.errorLog]) {
      try {
        const text = readFileSync(file, 'utf8').trimEnd();
        if (text) parts.push(text.split('\n').slice(-lines).join('\n'));
      } catch {
        // not written yet
      }
    }
    return parts.join('\n') || '(no log output)';
  }
}
