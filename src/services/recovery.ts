/**
 * The recovery record: which consumers a run stopped, written durably before
 * the first stop. If the run dies (crash, SIGKILL, power loss) before starting
 * them again, the next run finds the record and starts them: a backup must
 * never leave a service down.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { ServiceError, errorMessage } from '../errors';
import type { Logger } from '../log';
import { currentOwner, isOwnerAlive, parseOwner, type Owner } from './process-identity';
import type { Systemctl } from './systemctl';

export const RECOVERY_FILE = 'stopped-consumers.json';

export interface RecoveryRecord extends Owner {
  /** In the order they were stopped. */
  consumers: string[];
}

/** Nonces of the records of quiescers of this process that are still between stop and start. */
const liveRecords = new Set<string>();

export function recoveryPath(stateDir: string): string {
  return join(stateDir, RECOVERY_FILE);
}

/** Parses a record; null if it is not one. */
export function parseRecoveryRecord(text: string): RecoveryRecord | null {
  const owner = parseOwner(text);
  if (!owner) return null;
  const consumers = (JSON.parse(text) as { consumers?: unknown }).consumers;
  if (!Array.isArray(consumers) || !consumers.every((c) => typeof c === 'string' && c.length > 0)) return null;
  return { ...owner, consumers: consumers as string[] };
}

/** Writes to a temporary file, fsyncs it, renames it over the target and fsyncs the directory. */
export async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  const handle = await fs.open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, path);
  const dir = await fs.open(join(path, '..'), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/**
 * Records the consumers about to be stopped. Throws ServiceError if it
 * cannot: nothing may be stopped without a record.
 */
export async function writeRecoveryRecord(stateDir: string, consumers: string[], owner: Owner = currentOwner()): Promise<RecoveryRecord> {
  const record: RecoveryRecord = { ...owner, consumers: [...consumers] };
  try {
    await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
    await writeAtomic(recoveryPath(stateDir), `${JSON.stringify(record, null, 2)}\n`);
  } catch (err) {
    throw new ServiceError(`could not write the recovery record ${recoveryPath(stateDir)}: ${errorMessage(err)}`, { cause: err });
  }
  if (record.nonce) liveRecords.add(record.nonce);
  return record;
}

/** Marks a record of this process as finished (its consumers are started, or were handed over). */
export function settleRecoveryRecord(record: RecoveryRecord): void {
  if (record.nonce) liveRecords.delete(record.nonce);
}

export async function clearRecoveryRecord(stateDir: string): Promise<void> {
  try {
    await fs.unlink(recoveryPath(stateDir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** The record's text, or null if there is none. */
export async function readRecoveryRecord(stateDir: string): Promise<{ text: string; record: RecoveryRecord | null } | null> {
  try {
    const text = await fs.readFile(recoveryPath(stateDir), 'utf8');
    let record: RecoveryRecord | null = null;
    try {
      record = parseRecoveryRecord(text);
    } catch {
      record = null;
    }
    return { text, record };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Call with the run lock held, before quiescing. If a record exists from a
 * run that is no longer alive, starts its consumers (reverse stop order) and
 * deletes the record. Returns the consumers started. Start failures are
 * logged as errors, not thrown: the backup may still go ahead, and the next
 * quiesce sees those consumers as already stopped.
 */
export async function recoverInterruptedRun(stateDir: string, systemctl: Systemctl, log: Logger): Promise<string[]> {
  const found = await readRecoveryRecord(stateDir);
  if (!found) return [];
  const path = recoveryPath(stateDir);
  const { record } = found;
  if (!record) {
    // Keep the unreadable record for inspection, out of the way of the next run.
    const kept = `${path}.corrupt-${Date.now()}`;
    await fs.rename(path, kept);
    log.error('recovery record unreadable; consumers it listed may still be stopped', { file: kept });
    return [];
  }
  if (isOwnerAlive(record, liveRecords)) {
    log.info('recovery record belongs to a run still alive; left alone', { pid: record.pid, startedAt: record.startedAt });
    return [];
  }
  log.warn('starting consumers left stopped by an interrupted run', {
    consumers: record.consumers,
    pid: record.pid,
    startedAt: record.startedAt,
  });
  const started: string[] = [];
  for (const unit of [...record.consumers].reverse()) {
    try {
      await systemctl.start(unit);
      started.push(unit);
    } catch (err) {
      log.error('could not start consumer left stopped by an interrupted run', { service: unit, err: errorMessage(err) });
    }
  }
  await clearRecoveryRecord(stateDir);
  return started;
}
