import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createNotifier, watchdogIntervalMs } from '../../src/daemon/notify';
import { createLogger } from '../../src/log';
import { run } from '../../src/proc/run';
import { openNotifySocket, type NotifySocket } from '../helpers/notify-socket';

const ROOT = join(__dirname, '..', '..');

function capturedLogger(): { log: ReturnType<typeof createLogger>; lines: () => string[] } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  return { log: createLogger({ stream, journal: true, level: 'debug' }), lines: () => text.split('\n').filter(Boolean) };
}

describe('watchdogIntervalMs', () => {
  it('is half of WATCHDOG_USEC', () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '120000000' })).toBe(60_000);
  });
  it('is null without WATCHDOG_USEC or when it is not a number', () => {
    expect(watchdogIntervalMs({})).toBeNull();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: 'soon' })).toBeNull();
  });
  it('respects WATCHDOG_PID', () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '2000000', WATCHDOG_PID: String(process.pid) })).toBe(1000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '2000000', WATCHDOG_PID: '1' })).toBeNull();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '2000000', WATCHDOG_PID: '77' }, 77)).toBe(1000);
  });
});

describe('createNotifier outside systemd', () => {
  it('sends nothing and spawns nothing without NOTIFY_SOCKET', async () => {
    const { log, lines } = capturedLogger();
    // A binary that does not exist: any attempt to spawn it would log a warning.
    const n = createNotifier({}, log, { binary: '/nonexistent/systemd-notify' });
    n.ready();
    n.status('idle');
    n.watchdog();
    n.stopping();
    await n.flush();
    expect(lines()).toEqual([]);
  });
});

/**
 * The systemd-notify package spawns its child with the real process
 * environment, which jest hides behind a copy: NOTIFY_SOCKET set here would
 * never reach it. So the notifier runs in a child node process (TypeScript
 * transpiled on load) whose real environment carries the socket.
 */
async function inChild(socketPath: string, body: string): Promise<{ stdout: string; stderr: string }> {
  const script = `
    const ts = require('typescript');
    const fs = require('fs');
    require.extensions['.ts'] = (m, file) => m._compile(ts.transpileModule(fs.readFileSync(file, 'utf8'), {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    }).outputText, file);
    const { createNotifier } = require(${JSON.stringify(join(ROOT, 'src/daemon/notify.ts'))});
    const { createLogger } = require(${JSON.stringify(join(ROOT, 'src/log.ts'))});
    const log = createLogger({ journal: true, stream: process.stderr });
    const n = createNotifier(process.env, log);
    (async () => { ${body} })().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
  `;
  const res = await run(process.execPath, ['-e', script], { cwd: ROOT, env: { ...process.env, NOTIFY_SOCKET: socketPath }, timeoutMs: 20_000 });
  return { stdout: res.stdout, stderr: res.stderr };
}

describe('createNotifier under a real notify socket', () => {
  let sock: NotifySocket;

  beforeEach(async () => {
    sock = await openNotifySocket();
  });
  afterEach(async () => {
    await sock.close();
  });

  it('delivers READY=1, STATUS=, WATCHDOG=1 and STOPPING=1 as datagrams', async () => {
    const { stderr } = await inChild(
      sock.path,
      `n.ready(); await n.flush();
       n.status('idle; next run 2030-01-01 03:00'); await n.flush();
       n.watchdog(); await n.flush();
       n.stopping(); await n.flush();
       console.log('pid', process.pid);`,
    );
    expect(stderr).toBe('');
    const ready = await sock.waitFor((m) => m.split('\n').includes('READY=1'));
    expect(ready).toMatch(/^MAINPID=\d+$/m);
    expect(ready).not.toContain('STATUS='); // none was asked for (the package would send STATUS=undefined)
    await sock.waitFor((m) => m.split('\n').includes('STATUS=idle; next run 2030-01-01 03:00'));
    await sock.waitFor((m) => m === 'WATCHDOG=1');
    await sock.waitFor((m) => m === 'STOPPING=1');
    // In the order asked for.
    const kinds = sock.messages().filter((m) => m !== 'BARRIER=1');
    expect(kinds.findIndex((m) => m.includes('READY=1'))).toBeLessThan(kinds.findIndex((m) => m.includes('STATUS=idle')));
    expect(kinds.findIndex((m) => m.includes('STATUS=idle'))).toBeLessThan(kinds.indexOf('WATCHDOG=1'));
    expect(kinds.indexOf('WATCHDOG=1')).toBeLessThan(kinds.indexOf('STOPPING=1'));
  });

  it('sends READY=1 together with a status still waiting to go out', async () => {
    // The first status leaves at once; READY=1 and the second status queue behind it and travel together.
    await inChild(sock.path, `n.status('starting'); n.status('idle'); n.ready(); await n.flush();`);
    const ready = await sock.waitFor((m) => m.includes('READY=1'));
    expect(ready.split('\n')).toContain('STATUS=idle');
    expect(sock.messages().filter((m) => m.includes('STATUS=')).map((m) => m.split('\n').find((l) => l.startsWith('STATUS=')))).toEqual([
      'STATUS=starting',
      'STATUS=idle',
    ]);
  });

  it('coalesces a burst of status updates instead of spawning one child each', async () => {
    await inChild(sock.path, `for (let i = 0; i < 50; i++) n.status('step ' + i); await n.flush();`);
    const statuses = sock.messages().filter((m) => m.includes('STATUS='));
    // The first goes out at once; the other 49 collapse into the newest.
    expect(statuses.length).toBeGreaterThanOrEqual(1);
    expect(statuses.length).toBeLessThanOrEqual(2);
    expect(statuses[statuses.length - 1]).toContain('STATUS=step 49');
  });

  it('sends WATCHDOG=1 with the env it was given (no child node process needed)', async () => {
    const { log, lines } = capturedLogger();
    const n = createNotifier({ ...process.env, NOTIFY_SOCKET: sock.path }, log);
    n.watchdog();
    n.watchdog(); // coalesced with the first if it has not gone out yet
    await n.flush();
    await sock.waitFor((m) => m === 'WATCHDOG=1');
    expect(lines()).toEqual([]);
  });

  it('logs a warning, and does not throw, when the binary fails', async () => {
    const { log, lines } = capturedLogger();
    const n = createNotifier({ ...process.env, NOTIFY_SOCKET: sock.path }, log, { binary: '/nonexistent/systemd-notify' });
    expect(() => n.watchdog()).not.toThrow();
    await n.flush();
    expect(lines().some((l) => l.startsWith('<4>systemd notification failed') && l.includes('notification=WATCHDOG=1'))).toBe(true);
    expect(sock.messages()).toEqual([]);
  });

  it('logs a warning when the socket is gone', async () => {
    const { log, lines } = capturedLogger();
    const n = createNotifier({ ...process.env, NOTIFY_SOCKET: '/nonexistent/notify.sock' }, log);
    n.stopping();
    await n.flush();
    expect(lines().some((l) => l.startsWith('<4>systemd notification failed') && l.includes('notification=STOPPING=1'))).toBe(true);
  });
});
