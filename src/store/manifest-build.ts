/**
 * The manifests a backup run writes, built from what it wrote (pure): one
 * entry per file, the host manifest (structure and rows of the versioned
 * backup, views, triggers) and the user-data snapshot's.
 */
import { createHash } from 'node:crypto';
import type { SummaryClass } from '../domain/summary';
import type { Manifest, ManifestTable } from './manifest';
import { VIEWS_FILE } from './names';
import type { WrittenFile } from './table-dir';

/** What a manifest entry needs of a planned table (the plan's TablePlan fits). */
export interface EntryTable {
  name: string;
  file: string;
  class: SummaryClass;
  transactional: boolean;
}

/** The entry of one written file; `file` when it is stored under another name than the plan's (a `.gz` user file). */
export function manifestEntry(t: EntryTable, w: WrittenFile, structureSha256: string, rowsSaved: boolean, file: string = t.file): ManifestTable {
  return {
    table: t.name,
    file,
    class: t.class,
    rowsSaved,
    rows: rowsSaved ? w.rows : null,
    structureSha256,
    sha256: w.sha256,
    contentSha256: rowsSaved ? w.contentSha256 : null,
    transactional: t.transactional,
  };
}

export interface HostManifestInput {
  database: string;
  statementBytes: number;
  tables: ManifestTable[];
  /** The views file's text and the views it creates, or null when there are none. */
  views: { text: string; names: string[] } | null;
  triggers: { table: string; name: string }[];
}

/** The host directory's manifest: uncompressed, with the views file's checksum. */
export function hostManifest(m: HostManifestInput): Manifest {
  return {
    format: 1,
    kind: 'host',
    database: m.database,
    compressed: false,
    statementBytes: m.statementBytes,
    tables: m.tables,
    views: m.views ? { file: VIEWS_FILE, sha256: createHash('sha256').update(m.views.text).digest('hex'), names: m.views.names } : null,
    triggers: m.triggers,
  };
}

/** A user-data snapshot's manifest: rows of local tables only, no views or triggers. */
export function userManifest(m: { database: string; compressed: boolean; statementBytes: number; tables: ManifestTable[] }): Manifest {
  return { format: 1, kind: 'user', database: m.database, compressed: m.compressed, statementBytes: m.statementBytes, tables: m.tables, views: null, triggers: [] };
}
