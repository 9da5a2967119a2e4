/** Polls a MariaDB server until it accepts a login, for tooling that has just started one. */
import { createConnection } from 'mysql2/promise';
import { DatabaseError, errorMessage } from '../../src/errors';

export interface ServerLogin {
  host?: string;
  port?: number;
  /** Used instead of host/port when set. */
  socketPath?: string;
  user: string;
  password: string;
}

const POLL_MS = 200;

/** Opens a connection, pings, closes: true means the server is usable with these credentials. */
export async function tryLogin(login: ServerLogin): Promise<void> {
  const conn = await createConnection({
    host: login.socketPath ? undefined : login.host,
    port: login.socketPath ? undefined : login.port,
    socketPath: login.socketPath,
    user: login.user,
    password: login.password,
    connectTimeout: 2000,
  });
  try {
    await conn.ping();
  } finally {
    await conn.end().catch(() => undefined);
  }
}

/**
 * Resolves once a login succeeds; rejects with the last connection error after
 * timeoutMs. `abort` lets a caller that owns the server stop waiting as soon as
 * the process has died (it returns a reason, or null to keep waiting).
 */
export async function waitForServer(
  login: ServerLogin,
  timeoutMs: number,
  abort?: () => string | null,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const reason = abort?.();
    if (reason) throw new DatabaseError(`server did not come up: ${reason}`);
    try {
      await tryLogin(login);
      return;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const where = login.socketPath ?? `${login.host}:${login.port}`;
      throw new DatabaseError(`no MariaDB answered on ${where} within ${timeoutMs} ms: ${errorMessage(last)}`, {
        cause: last,
      });
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
