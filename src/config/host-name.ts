/** The host's fully qualified name: the name of its directory under csv2_backup_dir. */
import { promises as dns } from 'node:dns';
import { hostname } from 'node:os';
import { ConfigError } from '../errors';

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)));
  try {
    return await Promise.race([p.catch(() => null), timeout]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** Like Python's socket.getfqdn (what the original tool used): the canonical name of the host's address, else the host name. */
export async function fullyQualifiedHostName(): Promise<string> {
  const short = hostname();
  if (short.includes('.')) return short;
  const address = await withTimeout(dns.lookup(short), 2000);
  if (address) {
    const service = await withTimeout(dns.lookupService(address.address, 0), 2000);
    if (service?.hostname && service.hostname.startsWith(`${short}.`)) return service.hostname;
  }
  return short;
}

/** The host name becomes a directory: it must be one path component. */
export function checkHostName(name: string, source: string): string {
  if (!name || name === '.' || name === '..' || /[/\\\0]/.test(name) || name.startsWith('.')) {
    throw new ConfigError([{ file: source, message: `host name ${JSON.stringify(name)} cannot be used as a directory name; pass --host-name NAME` }]);
  }
  return name;
}

/** `--host-name NAME` if given, else this host's FQDN; a refusal names which of the two it judged. */
export async function backupHostName(given: string | undefined): Promise<string> {
  return given !== undefined ? checkHostName(given, '--host-name') : checkHostName(await fullyQualifiedHostName(), "this host's name (FQDN)");
}
