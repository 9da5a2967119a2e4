/**
 * The plan is data: from the configuration's classes and the server's table
 * list, decide what each table gets and where it goes. Pure, so every rule is
 * tested without a database, and `--dry-run` prints exactly what a run would do.
 */
import type { SummaryClass } from '../domain/summary';
import type { ListedTable } from '../config/types';
import { TABLE_CLASSES, type TableClass } from '../domain/table-class';
import { isTransactional, type DbTable } from '../db/schema';
import { tableFileName } from '../store/names';

export interface TablePlan {
  name: string;
  class: SummaryClass;
  file: string;
  engine: string | null;
  transactional: boolean;
  /** Rows go to the host directory (git): global tables. */
  rowsToHost: boolean;
  /** Rows go to the private user-data snapshot: local tables, when user_data_backup_dir is set. */
  rowsToUser: boolean;
  /** Rows go to the requested ephemeral directory (-e). */
  rowsToEphemeral: boolean;
}

export interface PlanWarning {
  message: string;
  table?: string;
}

export interface BackupPlan {
  /** Every base table and sequence that is not ignored, by name: each gets a structure file in the host directory (a sequence's row is its state). */
  tables: TablePlan[];
  ignored: string[];
  /** Views to save, by name. */
  views: string[];
  warnings: PlanWarning[];
}

export interface PlanInput {
  classes: Record<TableClass, ListedTable[]>;
  configFile: string;
  dbTables: DbTable[];
  userDataDir: boolean;
  ephemeralDir: boolean;
}

/** Highest first: local beats global (sensitive data never goes to git); a class that saves more beats one that saves less. */
const PRECEDENCE: readonly TableClass[] = ['local', 'global', 'ephemeral', 'ignore'];

const REASON: Record<TableClass, string> = {
  local: 'sensitive data never goes to git',
  global: 'its rows are saved',
  ephemeral: 'its structure is saved',
  ignore: '',
};

function at(configFile: string, t: ListedTable): string {
  return t.line > 0 ? `${configFile}:${t.line}` : configFile;
}

/** name -> winning class, with a warning for each table listed in more than one class. */
export function classify(classes: Record<TableClass, ListedTable[]>, configFile: string): { byName: Map<string, TableClass>; warnings: PlanWarning[] } {
  const listings = new Map<string, { cls: TableClass; entry: ListedTable }[]>();
  for (const cls of TABLE_CLASSES) {
    for (const entry of classes[cls]) {
      const list = listings.get(entry.name) ?? [];
      if (!list.some((l) => l.cls === cls)) list.push({ cls, entry });
      listings.set(entry.name, list);
    }
  }
  const byName = new Map<string, TableClass>();
  const warnings: PlanWarning[] = [];
  for (const [name, list] of listings) {
    list.sort((a, b) => PRECEDENCE.indexOf(a.cls) - PRECEDENCE.indexOf(b.cls));
    const winner = list[0];
    byName.set(name, winner.cls);
    for (const loser of list.slice(1)) {
      warnings.push({
        table: name,
        message: `table ${name} is listed as both ${winner.cls} (${at(configFile, winner.entry)}) and ${loser.cls} (${at(configFile, loser.entry)}): treated as ${winner.cls} (${REASON[winner.cls]}); remove it from one class`,
      });
    }
  }
  return { byName, warnings };
}

export function planBackup(input: PlanInput): BackupPlan {
  const { byName, warnings } = classify(input.classes, input.configFile);
  const present = new Set(input.dbTables.map((t) => t.name));
  const tables: TablePlan[] = [];
  const ignored: string[] = [];
  const views: string[] = [];
  const localWithoutDir: string[] = [];

  for (const t of [...input.dbTables].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const cls = byName.get(t.name);
    if (cls === 'ignore') {
      ignored.push(t.name);
      continue;
    }
    if (t.kind === 'view') {
      views.push(t.name);
      continue;
    }
    if (cls === undefined) {
      warnings.push({
        table: t.name,
        message: `table ${t.name} is not listed in any class of ${input.configFile}: its structure is saved, its rows are not backed up; add it to global, local, ephemeral or ignore`,
      });
    }
    if (cls === 'local' && !input.userDataDir) localWithoutDir.push(t.name);
    tables.push({
      name: t.name,
      class: cls ?? 'unclassified',
      file: tableFileName(t.name),
      engine: t.engine,
      transactional: isTransactional(t.engine),
      rowsToHost: cls === 'global',
      rowsToUser: cls === 'local' && input.userDataDir,
      rowsToEphemeral: cls === 'ephemeral' && input.ephemeralDir,
    });
  }

  for (const cls of TABLE_CLASSES) {
    for (const entry of input.classes[cls]) {
      if (!present.has(entry.name) && byName.get(entry.name) === cls) {
        warnings.push({ table: entry.name, message: `table ${entry.name} is listed as ${cls} (${at(input.configFile, entry)}) but the database has no such table` });
      }
    }
  }
  if (localWithoutDir.length > 0) {
    warnings.push({ message: `user_data_backup_dir is not set: rows of the local tables ${localWithoutDir.join(', ')} are not backed up` });
  }
  return { tables, ignored, views, warnings };
}
