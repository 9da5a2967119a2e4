/**
 * `api.listen` of schema_backup.conf: a loopback TCP address, a unix socket,
 * or (with `api.allow_remote: true`) any address. Pure: text in, address or
 * the reason it is refused out. Host names are refused: what they resolve to
 * can change, and the loopback rule must be checked on an address.
 */
import { isIP } from 'node:net';

export type ListenAddress =
  | { kind: 'tcp'; host: string; port: number; loopback: boolean }
  | { kind: 'unix'; path: string };

export const UNIX_PREFIX = 'unix:';

/** The README's recommendation: a socket only local users in its group can reach. */
export const RECOMMENDED_LISTEN = 'unix:/run/schema_backup/api.sock';

/** 127.0.0.0/8 and ::1 (also as ::ffff:127.x.y.z). */
export function isLoopback(host: string): boolean {
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) {
    const h = host.toLowerCase();
    return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  }
  return false;
}

/** The parsed address, or a message saying what is wrong (for the configuration error). */
export function parseListen(text: string): ListenAddress | { problem: string } {
  const example = `e.g. \`listen: "127.0.0.1:8089"\` or \`listen: "${RECOMMENDED_LISTEN}"\``;
  if (text.startsWith(UNIX_PREFIX)) {
    const path = text.slice(UNIX_PREFIX.length);
    if (!path.startsWith('/')) return { problem: `a unix socket needs an absolute path, ${example}` };
    if (/[\u0000-\u001f]/.test(path)) return { problem: 'the socket path contains a control character' };
    // sun_path holds 108 bytes, NUL included.
    if (Buffer.byteLength(path) > 107) return { problem: 'the socket path is longer than 107 bytes (the kernel limit)' };
    return { kind: 'unix', path };
  }
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+)|(localhost)):(\d{1,5})$/.exec(text);
  if (!m) return { problem: `expected HOST:PORT with an IP address (IPv6 in brackets), or unix:/PATH, ${example}` };
  const host = m[1] ?? m[2] ?? '127.0.0.1';
  const port = Number(m[4]);
  if (isIP(host) === 0) return { problem: `${JSON.stringify(host)} is not an IP address, ${example}` };
  if (port < 1 || port > 65535) return { problem: `port ${port} is out of range (1-65535)` };
  return { kind: 'tcp', host, port, loopback: isLoopback(host) };
}

export function describeListen(a: ListenAddress): string {
  return a.kind === 'unix' ? `${UNIX_PREFIX}${a.path}` : isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
