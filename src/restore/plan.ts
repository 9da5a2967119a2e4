/**
 * What a restore will do (pure): which tables, with or without rows, what
 * happens to each in the target, and whether the restore must refuse.
 */
import type { SourceTable } from './source';

export type RestoreMode = 'empty' | 'merge' | 'replace';
export type OnlyPart = 'global' | 'local' | 'structure';

export interface RestoreSelection {
  /** --tables: restrict to these (null: every table of the backup). */
  tables: string[] | null;
  only: OnlyPart | null;
  mode: RestoreMode;
}

export interface PlannedTable {
  source: SourceTable;
  /** Rows are loaded (false: the table comes back empty). */
  withRows: boolean;
  /** The target already has a table (or view) of this name. */
  exists: boolean;
  /** create: moved in new; replace: the old one is dropped; merge: rows merged by key. */
  action: 'create' | 'replace' | 'merge';
}

export interface RestorePlan {
  tables: PlannedTable[];
  /** Views are recreated only by a restore of the whole backup. */
  views: boolean;
  /** Names the target already holds (tables or views) that block a default restore. */
  conflicts: string[];
  /** --tables names the backup does not have. */
  unknown: string[];
}

/** Ephemeral and unclassified tables never carry rows; `--only structure` drops all rows. */
function wantsRows(t: SourceTable, only: OnlyPart | null): boolean {
  if (!t.rowsSaved || only === 'structure') return false;
  return t.class === 'global' || t.class === 'local';
}

function selected(t: SourceTable, only: OnlyPart | null): boolean {
  if (only === 'global' || only === 'local') return t.class === only;
  return true;
}

export function planRestore(
  tables: readonly SourceTable[],
  selection: RestoreSelection,
  target: { tables: ReadonlySet<string>; views: ReadonlySet<string> },
  viewNames: readonly string[],
): RestorePlan {
  const wanted = selection.tables ? new Set(selection.tables) : null;
  const known = new Set(tables.map((t) => t.table));
  const unknown = (selection.tables ?? []).filter((n) => !known.has(n));
  const planned: PlannedTable[] = [];
  for (const t of tables) {
    if (wanted && !wanted.has(t.table)) continue;
    if (!selected(t, selection.only)) continue;
    const exists = target.tables.has(t.table) || target.views.has(t.table);
    const action = !exists ? 'create' : selection.mode === 'merge' ? 'merge' : 'replace';
    planned.push({ source: t, withRows: wantsRows(t, selection.only), exists, action });
  }
  const views = wanted === null && (selection.only === null || selection.only === 'structure') && viewNames.length > 0;
  // Default mode: nothing of the same name may exist. Any mode: a table may not take a view's place, nor the reverse.
  const conflicts = new Set<string>();
  for (const p of planned) {
    if (selection.mode === 'empty' ? p.exists : target.views.has(p.source.table)) conflicts.add(p.source.table);
  }
  if (views) {
    for (const v of viewNames) if (selection.mode === 'empty' ? target.tables.has(v) || target.views.has(v) : target.tables.has(v)) conflicts.add(v);
  }
  return { tables: planned, views, conflicts: [...conflicts].sort(), unknown };
}
