/**
 * A real sd_notify receiver for tests. Node cannot bind an AF_UNIX
 * SOCK_DGRAM socket, so a small python3 child binds it and prints each
 * datagram as one JSON string per line. It also closes any descriptors
 * passed along (systemd-notify's BARRIER=1 waits for that, as systemd does).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const RECEIVER = `
import array, json, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("LISTENING", flush=True)
while True:
    data, anc, flags, addr = s.recvmsg(65536, socket.CMSG_SPACE(64 * 4))
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(payload[: len(payload) - len(payload) % 4])
            for fd in fds:
                os.close(fd)
    print(json.dumps(data.decode("utf-8", "replace")), flush=True)
`;

export interface NotifySocket {
  /** Pass as NOTIFY_SOCKET. */
  path: string;
  /** Every datagram received so far, in order (multi-line ones kept whole). */
  messages(): string[];
  /** The same with the time (Date.now()) each one reached the test process. */
  timedMessages(): { message: string; at: number }[];
  /** Resolves with the first datagram (already received or still to come) matching pred. */
  waitFor(pred: (message: string) => boolean, timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
}

export async function openNotifySocket(): Promise<NotifySocket> {
  const dir = mkdtempSync(join(tmpdir(), 'sbn-'));
  const path = join(dir, 'notify.sock');
  const child: ChildProcessWithoutNullStreams = spawn('python3', ['-c', RECEIVER, path], { stdio: ['pipe', 'pipe', 'pipe'] });
  const received: string[] = [];
  const times: number[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));

  await new Promise<void>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    let listening = false;
    lines.on('line', (line) => {
      if (!listening) {
        if (line === 'LISTENING') {
          listening = true;
          resolve();
        }
        return;
      }
      received.push(JSON.parse(line) as string);
      times.push(Date.now());
      for (const w of waiters) w();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (!listening) reject(new Error(`notify receiver exited with ${code}: ${stderr}`));
    });
  });

  return {
    path,
    messages: () => [...received],
    timedMessages: () => received.map((message, i) => ({ message, at: times[i] as number })),
    waitFor(pred, timeoutMs = 5000) {
      return new Promise<string>((resolve, reject) => {
        const check = (): boolean => {
          const hit = received.find(pred);
          if (hit === undefined) return false;
          waiters.delete(onMessage);
          clearTimeout(timer);
          resolve(hit);
          return true;
        };
        const onMessage = (): void => void check();
        const timer = setTimeout(() => {
          waiters.delete(onMessage);
          reject(new Error(`no matching notification within ${timeoutMs} ms; got ${JSON.stringify(received)}`));
        }, timeoutMs);
        if (!check()) waiters.add(onMessage);
      });
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
