/** What every command writes to, and how it reports a failure. */
import { ConfigError, errorMessage, exitCodeOf, formatConfigMessage } from '../errors';
import type { Logger } from '../log';

export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export function logFailure(log: Logger, err: unknown): void {
  if (err instanceof ConfigError) {
    for (const p of err.problems) log.error('invalid configuration', { problem: formatConfigMessage(p) });
  } else {
    log.error('run failed', { error: errorMessage(err), exitCode: exitCodeOf(err) });
  }
}
