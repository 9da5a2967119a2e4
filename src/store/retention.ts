/**
 * Retention of user-data snapshots. planRetention is pure; applyRetention
 * reads the snapshot directory, asks the plan, and removes what it says.
 *
 * Snapshot directories are named `YYYYmmddHHMMSS` (UTC, see user-snapshot.ts).
 * Anything else in the directory, in particular `*.partial` (a snapshot being
 * written) and `latest`, is never listed, so never removed; the snapshot
 * `latest` points to is protected.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { RetentionPolicy } from '../config/types';
import { errorMessage } from '../errors';
import type { Logger } from '../log';
import { readLatestTarget } from './user-snapshot';
import { snapshotNameFields } from '../domain/snapshot-name';

export interface Snapshot {
  name: string;
  time: Date;
}

export interface RetentionPlan {
  keep: string[];
  remove: string[];
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * A snapshot is kept if it is among the newest `keep`, OR younger than
 * `maxAgeDays`, OR protected. A rule that is null keeps nothing by itself; with
 * both null everything is kept. The newest snapshot is always kept, so a
 * daemon that was down for longer than maxAgeDays still leaves one behind even
 * if `latest` cannot be read. Both lists come out newest first.
 */
export function planRetention(snapshots: readonly Snapshot[], policy: RetentionPolicy, protectedNames: readonly string[], now: Date): RetentionPlan {
  const sorted = [...snapshots].sort((a, b) => b.time.getTime() - a.time.getTime() || b.name.localeCompare(a.name));
  const noLimit = policy.keep === null && policy.maxAgeDays === null;
  const isProtected = new Set(protectedNames);
  const keep: string[] = [];
  const remove: string[] = [];
  sorted.forEach((s, index) => {
    const byCount = policy.keep !== null && index < policy.keep;
    const byAge = policy.maxAgeDays !== null && now.getTime() - s.time.getTime() < policy.maxAgeDays * DAY_MS;
    if (noLimit || index === 0 || byCount || byAge || isProtected.has(s.name)) keep.push(s.name);
    else remove.push(s.name);
  });
  return { keep, remove };
}

/** The time a snapshot directory name stands for, or null if the name is not a snapshot's. */
export function parseSnapshotName(name: string): Date | null {
  const fields = snapshotNameFields(name);
  if (!fields) return null;
  const [y, mo, d, h, mi, s] = fields;
  const time = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  // Reject impossible dates (20241341...) that Date.UTC would roll over.
  if (time.getUTCMonth() !== mo - 1 || time.getUTCDate() !== d || time.getUTCHours() !== h || time.getUTCMinutes() !== mi || time.getUTCSeconds() !== s) {
    return null;
  }
  return time;
}

/** Snapshot directories (real directories, not symlinks) in userDataDir. */
export async function listSnapshots(userDataDir: string): Promise<Snapshot[]> {
  const entries = await fs.readdir(userDataDir, { withFileTypes: true });
  const out: Snapshot[] = [];
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const time = parseSnapshotName(e.name);
    if (time) out.push({ name: e.name, time });
  }
  return out;
}

export interface RetentionResult extends RetentionPlan {
  /** Snapshots the plan removed but that could not be removed (logged). */
  failed: string[];
}

/**
 * Removes the snapshots the policy no longer keeps. A removal that fails is
 * logged and the rest go on: retention must never fail a backup.
 */
export async function applyRetention(userDataDir: string, policy: RetentionPolicy, log: Logger, now: Date = new Date()): Promise<RetentionResult> {
  const snapshots = await listSnapshots(userDataDir);
  const latest = await readLatestTarget(userDataDir);
  const plan = planRetention(snapshots, policy, latest ? [latest] : [], now);
  const failed: string[] = [];
  for (const name of plan.remove) {
    const dir = join(userDataDir, name);
    try {
      await fs.rm(dir, { recursive: true });
      log.info('user-data snapshot removed by retention', { snapshot: dir });
    } catch (err) {
      failed.push(name);
      log.warn('could not remove user-data snapshot', { snapshot: dir, err: errorMessage(err) });
    }
  }
  return { ...plan, failed };
}
