/**
 * Who owns a lock or a recovery record, and whether that owner still lives.
 * A bare PID is not enough: after a reboot or PID wrap-around another process
 * may carry it, and the daemon keeps one PID across many runs. So an owner
 * also names the boot, the kernel's start time of the process and a nonce
 * for the run; each is checked when both sides know it.
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

export interface Owner {
  pid: number;
  /** ISO 8601: when the run took ownership (shown to users). */
  startedAt: string;
  /** /proc/sys/kernel/random/boot_id, when readable. */
  bootId?: string;
  /** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), when readable. */
  procStart?: string;
  /** Unique per lock or record; tells apart runs of one long-lived process. */
  nonce?: string;
}

/** Parses /proc/<pid>/stat text into its state letter and start time; null if malformed. */
export function parseProcStat(text: string): { state: string; procStart: string } | null {
  // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
  const end = text.lastIndexOf(')');
  if (end < 0) return null;
  const rest = text.slice(end + 1).trim().split(/\s+/);
  // rest[0] is field 3 (state); field 22 (starttime) is rest[19].
  if (rest.length < 20 || !/^\d+$/.test(rest[19] as string)) return null;
  return { state: rest[0] as string, procStart: rest[19] as string };
}

function readProcStat(pid: number | 'self'): { state: string; procStart: string } | null {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

let cachedBootId: string | null | undefined;
function bootId(): string | null {
  if (cachedBootId === undefined) {
    try {
      cachedBootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
    } catch {
      cachedBootId = null;
    }
  }
  return cachedBootId;
}

/** The owner record for this process, with a fresh nonce. */
export function currentOwner(now: Date = new Date()): Owner {
  const owner: Owner = { pid: process.pid, startedAt: now.toISOString(), nonce: randomBytes(8).toString('hex') };
  const boot = bootId();
  if (boot) owner.bootId = boot;
  const stat = readProcStat('self');
  if (stat) owner.procStart = stat.procStart;
  return owner;
}

/** Validates JSON text as an owner; null for anything else (a garbage file). */
export function parseOwner(text: string): Owner | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  if (typeof v.pid !== 'number' || !Number.isInteger(v.pid) || v.pid <= 0) return null;
  if (typeof v.startedAt !== 'string') return null;
  const owner: Owner = { pid: v.pid, startedAt: v.startedAt };
  if (typeof v.bootId === 'string') owner.bootId = v.bootId;
  if (typeof v.procStart === 'string') owner.procStart = v.procStart;
  if (typeof v.nonce === 'string') owner.nonce = v.nonce;
  return owner;
}

/**
 * True if the owner's process is still running. For this very process the
 * answer comes from `ownLive` (the nonces it currently holds), since its PID
 * is alive whatever the state of an earlier run.
 */
export function isOwnerAlive(owner: Owner, ownLive: ReadonlySet<string>): boolean {
  if (owner.pid === process.pid) {
    if (owner.bootId && bootId() && owner.bootId !== bootId()) return false;
    return owner.nonce !== undefined && ownLive.has(owner.nonce);
  }
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const boot = bootId();
  if (owner.bootId && boot && owner.bootId !== boot) return false;
  const stat = readProcStat(owner.pid);
  if (stat) {
    if (stat.state === 'Z' || stat.state === 'X') return false;
    if (owner.procStart && stat.procStart !== owner.procStart) return false;
  }
  return true;
}
