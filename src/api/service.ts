/**
 * The API as a daemon service: listens (TCP or a unix socket) before READY=1,
 * and on SIGTERM stops taking requests and lets those in flight end (an
 * archive download gets CLOSE_GRACE_MS, then its connection is cut).
 */
import { connect } from 'node:net';
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { describeListen, type ListenAddress } from '../config/api-listen';
import type { BackupConfig } from '../config/types';
import type { DaemonControl, DaemonService } from '../daemon/daemon';
import { ConfigError, errorMessage } from '../errors';
import type { Logger } from '../log';
import type { ApiDeps } from './server';

/** Unix socket mode: the owner and its group (give the group to the clients allowed). */
export const SOCKET_MODE = 0o660;
export const CLOSE_GRACE_MS = 20_000;

/** Whether something answers on a unix socket path (a live daemon) or not (a file a crash left). */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Removes a socket file left by a crashed daemon; refuses anything else in the way. */
async function clearStaleSocket(path: string, configFile: string): Promise<void> {
  const st = await fs.lstat(path).catch(() => null);
  if (!st) return;
  if (!st.isSocket()) throw new ConfigError([{ file: configFile, key: 'api.listen', message: `${path} exists and is not a socket; remove it or choose another path` }]);
  if (await socketAnswers(path)) throw new ConfigError([{ file: configFile, key: 'api.listen', message: `another process listens on ${path} (a second daemon?)` }]);
  await fs.unlink(path);
}

async function listen(app: FastifyInstance, at: ListenAddress, config: BackupConfig): Promise<void> {
  try {
    if (at.kind === 'unix') {
      await clearStaleSocket(at.path, config.file);
      // Bound under a name of its own, given its mode, then moved into place: no client ever
      // finds the socket with the umask's mode (a test saw 0755 between listen and chmod).
      const bound = join(dirname(at.path), `.sb${process.pid}`);
      await fs.rm(bound, { force: true });
      await app.listen({ path: bound });
      await fs.chmod(bound, SOCKET_MODE);
      await fs.rename(bound, at.path);
    } else {
      await app.listen({ host: at.host, port: at.port });
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError([{ file: config.file, key: 'api.listen', message: `cannot listen on ${describeListen(at)}: ${errorMessage(err)}` }]);
  }
}

export function apiService(makeDeps: (control: DaemonControl) => Omit<ApiDeps, 'control'>): DaemonService {
  let app: FastifyInstance | null = null;
  let socketPath: string | null = null;
  let log: Logger | null = null;
  return {
    async start(control) {
      const config = control.config();
      if (!config.api) return;
      const deps = { ...makeDeps(control), control };
      log = deps.log;
      // Loaded only when configured: a daemon without `api:` never loads fastify.
      const { buildApi } = await import('./server');
      const api = buildApi(deps);
      const at = config.api.listen;
      await listen(api, at, config);
      app = api;
      socketPath = at.kind === 'unix' ? at.path : null;
      if (at.kind === 'tcp' && !at.loopback) {
        deps.log.warn('API listening on an address other hosts can reach, in plain HTTP: TLS belongs to a reverse proxy in front', { listen: describeListen(at) });
      }
      deps.log.info('API listening', { listen: describeListen(at), restore: config.api.allowRestore });
    },
    async stop() {
      const api = app;
      app = null;
      if (!api) return;
      const grace = setTimeout(() => {
        log?.warn('API: responses still in flight after the grace period; closing their connections', { graceMs: CLOSE_GRACE_MS });
        api.server.closeAllConnections();
      }, CLOSE_GRACE_MS);
      try {
        await api.close();
      } finally {
        clearTimeout(grace);
      }
      if (socketPath) await fs.unlink(socketPath).catch(() => undefined);
      log?.info('API closed');
    },
  };
}
