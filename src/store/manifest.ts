/**
 * The manifest written beside every set of backup files: what each file holds
 * and its checksums, so restore and verify can prove a backup is intact.
 * Nothing volatile in the host manifest: an unchanged run rewrites it byte for byte.
 */
import type { SummaryClass } from '../domain/summary';

export interface ManifestTable {
  table: string;
  file: string;
  class: SummaryClass;
  rowsSaved: boolean;
  /** Row count in the backup's snapshot (null when rows are not saved). */
  rows: number | null;
  /** sha256 of the file's text apart from its rows (structure and triggers): tells a structure change from a rows change. */
  structureSha256: string;
  /** sha256 of the file as stored. */
  sha256: string;
  /**
   * sha256 of the uncompressed file text from its start through its last row (head and rows), recomputable
   * from a restored table (the file's head, then the table's rows through the same encoder); null when rows are not saved.
   */
  contentSha256: string | null;
  transactional: boolean;
}

export interface Manifest {
  format: 1;
  kind: 'host' | 'user' | 'ephemeral';
  database: string;
  compressed: boolean;
  /**
   * The longest INSERT statement of the files (rows are one statement per line up to it); verify cuts
   * restored rows alike. Absent in backups of the earlier one-row-per-line layout.
   */
  statementBytes?: number;
  tables: ManifestTable[];
  views: { file: string; sha256: string; names: string[] } | null;
  triggers: { table: string; name: string }[];
}

export function renderManifest(m: Manifest): string {
  const sorted: Manifest = { ...m, tables: [...m.tables].sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0)) };
  return JSON.stringify(sorted, null, 2) + '\n';
}

export function parseManifest(text: string, source: string): Manifest {
  const m = JSON.parse(text) as Manifest;
  if (m.format !== 1 || !Array.isArray(m.tables)) throw new Error(`${source}: not a schema_backup manifest (format 1)`);
  return m;
}
