/** A real logger whose lines are kept for assertions, and a PID certain to be dead (for stale locks and records). */
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/log';
import { run } from '../../src/proc/run';

export function captureLog(): { log: Logger; text: () => string } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { log: createLogger({ stream, level: 'debug', journal: false }), text: () => lines.join('') };
}

/** The PID of a process that has run and been waited for: certainly dead. */
export async function deadPid(): Promise<number> {
  const { stdout } = await run('/bin/sh', ['-c', 'echo $$']);
  return Number(stdout.trim());
}
