/**
 * Which unix socket a connection to `localhost` uses, as the mysql clients
 * choose it: the one configured with the credentials, else the last `socket`
 * of the client groups in the standard option files, else the platform
 * default. Pure: a function of the credentials, the settings read from the
 * option files and which sockets exist.
 *
 * Why it matters: over TCP the server sees the client as 127.0.0.1, and a
 * server running skip-name-resolve then refuses an account `'csv2'@'localhost'`
 * that the socket lets in. TCP is used for `localhost` only when no socket is
 * configured or found. A socket that is named (in the credentials or an option
 * file) is used whether it exists or not, as by the clients: the connection
 * error then names it and where it was named.
 */
import type { ClientSetting } from './client-options';
import type { DbCredentials } from './types';

/**
 * Where MariaDB/MySQL packages put the server socket, first that exists wins:
 * Debian/Ubuntu and recent Fedora, its older spelling, RHEL/CentOS (CSV2's
 * platform), then the upstream default.
 */
export const PLATFORM_SOCKETS: readonly string[] = ['/run/mysqld/mysqld.sock', '/var/run/mysqld/mysqld.sock', '/var/lib/mysql/mysql.sock', '/tmp/mysql.sock'];

/** As the mysql clients: the socket is for `localhost` (and no host); a name or address means TCP. */
export function isSocketHost(host: string): boolean {
  return host === 'localhost' || host === '';
}

/** Whether the option files have to be read at all. */
export function needsSocketLookup(creds: DbCredentials): boolean {
  return isSocketHost(creds.host) && creds.socketPath === null;
}

export interface SocketEnvironment {
  /** `socket` and other settings of the client groups, in the order read. */
  clientSettings: readonly ClientSetting[];
  /** Whether a socket exists at this path. */
  socketExists: (path: string) => boolean;
}

/** The credentials with socketPath and transport filled in for `localhost`; others unchanged. */
export function resolveTransport(creds: DbCredentials, env: SocketEnvironment): DbCredentials {
  if (!isSocketHost(creds.host)) return creds;
  if (creds.socketPath !== null) return { ...creds, transport: `socket configured in ${creds.source}` };
  // The last setting wins; an empty one puts the default back, as in the clients.
  const setting = [...env.clientSettings].reverse().find((s) => s.name === 'socket');
  if (setting?.value) {
    return { ...creds, socketPath: setting.value, transport: `socket from [${setting.group}] in ${setting.file}:${setting.line}` };
  }
  const platform = PLATFORM_SOCKETS.find((path) => env.socketExists(path));
  if (platform !== undefined) return { ...creds, socketPath: platform, transport: 'platform default socket' };
  return { ...creds, transport: `TCP: no socket configured, none in the option files, none of ${PLATFORM_SOCKETS.join(', ')} exists` };
}
