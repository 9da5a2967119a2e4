/**
 * The pause flag's recovery record: the value the flag had before a run set
 * it to 'True', written durably before the change. If the run dies (SIGKILL,
 * crash, power loss) before putting it back, the next run (or the daemon's
 * start) finds the record and puts the value back: otherwise the consumers
 * would stay paused, and the next pause-flag run would take 'True' for the
 * site's own value.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { DatabaseError, ServiceError, errorMessage } from '../errors';
import type { Logger } from '../log';
import type { PauseFlagDb } from './pause-flag-db';
import { FLAG_ROW } from './pause-flag-sql';
import { currentOwner, isOwnerAlive, parseOwner, type Owner } from './process-identity';
import { writeAtomic } from './recovery';
import type { FlagRestore } from '../domain/service-report';

export const PAUSE_RECORD_FILE = 'paused-flag.json';

/** Which database the flag was set in: a record is only ever applied to that one. */
export interface FlagTarget {
  /** `host:port` or `socket PATH` (see db/connect where()). */
  server: string;
  database: string;
}

export interface PauseFlagRecord extends Owner, FlagTarget {
  /** The flag's value before the run (null: SQL NULL). */
  previous: string | null;
}

/** Nonces of this process's records still between pause and restore. */
const liveRecords = new Set<string>();

export function pauseRecordPath(stateDir: string): string {
  return join(stateDir, PAUSE_RECORD_FILE);
}

/** Parses a record; null if it is not one. */
export function parsePauseFlagRecord(text: string): PauseFlagRecord | null {
  const owner = parseOwner(text);
  if (!owner) return null;
  const v = JSON.parse(text) as Record<string, unknown>;
  if (typeof v.server !== 'string' || typeof v.database !== 'string' || !(typeof v.previous === 'string' || v.previous === null)) return null;
  return { ...owner, server: v.server, database: v.database, previous: v.previous };
}

async function readRecord(stateDir: string): Promise<{ record: PauseFlagRecord | null } | null> {
  try {
    const text = await fs.readFile(pauseRecordPath(stateDir), 'utf8');
    return { record: parsePauseFlagRecord(text) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** True when a record exists (readable or not). */
export async function pauseRecordExists(stateDir: string): Promise<boolean> {
  return (await readRecord(stateDir)) !== null;
}

/** Records the previous value. Throws ServiceError if it cannot: the flag is never changed without a record. */
export async function writePauseFlagRecord(stateDir: string, target: FlagTarget, previous: string | null): Promise<PauseFlagRecord> {
  const record: PauseFlagRecord = { ...currentOwner(), ...target, previous };
  try {
    await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
    await writeAtomic(pauseRecordPath(stateDir), `${JSON.stringify(record, null, 2)}\n`);
  } catch (err) {
    throw new ServiceError(`could not write the recovery record ${pauseRecordPath(stateDir)}: ${errorMessage(err)}`, { cause: err });
  }
  if (record.nonce) liveRecords.add(record.nonce);
  return record;
}

/** The record is done with: deleted (the flag is back) and no longer live. */
export async function clearPauseFlagRecord(stateDir: string, record: PauseFlagRecord | null): Promise<void> {
  if (record?.nonce) liveRecords.delete(record.nonce);
  try {
    await fs.unlink(pauseRecordPath(stateDir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Kept for the next run: this process no longer works on it. */
export function settlePauseFlagRecord(record: PauseFlagRecord): void {
  if (record.nonce) liveRecords.delete(record.nonce);
}

export type FlagRecovery = FlagRestore | 'none' | 'alive' | 'elsewhere' | 'unreadable';

/**
 * Call with the run lock held, before quiescing (and at the daemon's start).
 * If a record exists from a run that is no longer alive, puts the flag back
 * (only if it still holds 'True') and deletes the record. A record for another
 * database (the configuration changed) is left alone with an error: a
 * pause-flag run then refuses to start until someone settles it. Throws
 * DatabaseError when the database cannot be reached: the record is kept.
 */
export async function recoverPauseFlag(stateDir: string, target: FlagTarget, flag: () => PauseFlagDb, log: Logger): Promise<FlagRecovery> {
  const found = await readRecord(stateDir);
  if (!found) return 'none';
  const path = pauseRecordPath(stateDir);
  const { record } = found;
  if (!record) {
    const kept = `${path}.corrupt-${Date.now()}`;
    await fs.rename(path, kept);
    log.error('pause flag recovery record unreadable; the flag may still be set', { file: kept, row: FLAG_ROW });
    return 'unreadable';
  }
  if (isOwnerAlive(record, liveRecords)) {
    log.info('pause flag recovery record belongs to a run still alive; left alone', { pid: record.pid, startedAt: record.startedAt });
    return 'alive';
  }
  if (record.server !== target.server || record.database !== target.database) {
    log.error('pause flag recovery record names another database; left alone: put the flag back there by hand, then delete the file', {
      file: path,
      server: record.server,
      database: record.database,
      previous: record.previous,
    });
    return 'elsewhere';
  }
  let outcome: FlagRestore;
  try {
    outcome = await flag().restore(record.previous);
  } catch (err) {
    throw new DatabaseError(`could not put back the pause flag left set by an interrupted run (record ${path}, value ${JSON.stringify(record.previous)}): ${errorMessage(err)}`, { cause: err });
  }
  const fields = { row: FLAG_ROW, previous: record.previous, pid: record.pid, startedAt: record.startedAt };
  if (outcome === 'restored') log.warn('pause flag put back after an interrupted run', fields);
  else if (outcome === 'changed') log.warn('pause flag was changed since an interrupted run set it; left as it is', fields);
  else if (outcome === 'missing') log.warn('pause flag row is gone since an interrupted run set it; nothing to put back', fields);
  else log.info('pause flag already holds its value from before an interrupted run', fields);
  await clearPauseFlagRecord(stateDir, null);
  return outcome;
}
