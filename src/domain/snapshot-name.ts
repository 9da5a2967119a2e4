/**
 * User-data snapshot names: `YYYYmmddHHMMSS` (UTC), and `latest`, the symbolic
 * link to the newest. Every room that takes a snapshot name from outside (the
 * command line, the API, an archive, an SQLite file) checks it here.
 */

export const LATEST = 'latest';

/** The name's six fields: year, month, day, hour, minute, second. */
const SNAPSHOT_NAME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/;

/** A snapshot name or `latest`, as a pattern string (JSON Schema of the API). */
export const SNAPSHOT_REF_PATTERN = '^(\\d{14}|latest)$';

/** UTC, so names sort in time order across DST changes. */
export function snapshotName(now: Date): string {
  return now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

export function isSnapshotName(name: string): boolean {
  return SNAPSHOT_NAME.test(name);
}

/** `latest` or a snapshot name: what a caller may ask for. */
export function isSnapshotRef(name: string): boolean {
  return name === LATEST || isSnapshotName(name);
}

/** The fields of a snapshot name (not checked as a date), or null if it is not one. */
export function snapshotNameFields(name: string): [number, number, number, number, number, number] | null {
  const m = SNAPSHOT_NAME.exec(name);
  return m ? (m.slice(1).map(Number) as [number, number, number, number, number, number]) : null;
}
