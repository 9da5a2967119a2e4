/**
 * Before any test: make sure a MariaDB answers where the tests look for one
 * (SB_TEST_* or 127.0.0.1:3306, root, empty password). If none does, start a
 * private throwaway server and point the tests at it, so `npm test` works on a
 * machine with the mariadb-server package installed but no server running.
 */
import { startPrivateServer, type PrivateServer } from '../../scripts/lib/mariadb-server';
import { tryLogin } from '../../scripts/lib/wait-for-server';
import { testServer } from './db';

declare global {
  // eslint-disable-next-line no-var
  var __SB_PRIVATE_SERVER__: PrivateServer | undefined;
}

export default async function globalSetup(): Promise<void> {
  const server = testServer();
  try {
    await tryLogin({ host: server.host, port: server.port, user: server.user, password: server.password });
    return;
  } catch (err) {
    process.stderr.write(`\nno MariaDB answers on ${server.host}:${server.port} (${(err as Error).message}); starting a private one for the tests\n`);
  }
  const privateServer = await startPrivateServer();
  globalThis.__SB_PRIVATE_SERVER__ = privateServer;
  // Workers start after this and inherit the environment.
  process.env.SB_TEST_HOST = privateServer.host;
  process.env.SB_TEST_PORT = String(privateServer.port);
  process.env.SB_TEST_USER = privateServer.user;
  process.env.SB_TEST_PASSWORD = privateServer.password;
}
