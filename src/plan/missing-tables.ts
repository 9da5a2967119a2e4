/**
 * The guard against backing up the wrong database: one that answers but is
 * empty, recreated empty, or another one (a wrong db_name). Such a run would
 * "succeed" and commit the removal of every host file. Pure: decided from the
 * configuration, the server's table list and the previous host manifest.
 */
import type { DbTable } from '../db/schema';
import type { ListedTable } from '../config/types';
import type { TableClass } from '../domain/table-class';
import { classify } from './plan';

export interface MissingTablesInput {
  classes: Record<TableClass, ListedTable[]>;
  configFile: string;
  dbTables: readonly DbTable[];
  /** Tables of the previous host manifest; null on a first run (nothing to lose). */
  previousTables: readonly string[] | null;
  /** Database name and credentials file, for the message. */
  database: string;
  credentialsFile: string;
}

export interface MissingTables {
  /** Tables listed in a saving class that the previous backup had. */
  expected: string[];
  /** Of those, the ones the database lacks. */
  missing: string[];
}

/** Which of the configured tables the last backup had are gone now. */
export function missingTables(input: Pick<MissingTablesInput, 'classes' | 'configFile' | 'dbTables' | 'previousTables'>): MissingTables {
  const { byName } = classify(input.classes, input.configFile);
  const previous = new Set(input.previousTables ?? []);
  const present = new Set(input.dbTables.map((t) => t.name));
  const expected = [...byName].filter(([name, cls]) => cls !== 'ignore' && previous.has(name)).map(([name]) => name).sort();
  return { expected, missing: expected.filter((name) => !present.has(name)) };
}

/** How many names a message lists before "and N more". */
const SHOWN = 5;

/**
 * The refusal, or null when the run may go ahead: more than half of the
 * configured tables the previous backup had are missing. Fewer is a table
 * dropped on purpose: its host file is removed, and the commit names it.
 */
export function missingTablesRefusal(input: MissingTablesInput): string | null {
  const { expected, missing } = missingTables(input);
  if (expected.length === 0 || missing.length * 2 <= expected.length) return null;
  const shown = missing.slice(0, SHOWN).join(', ') + (missing.length > SHOWN ? ` and ${missing.length - SHOWN} more` : '');
  return (
    `database ${input.database} (${input.credentialsFile}) lacks ${missing.length} of the ${expected.length} tables ` +
    `that ${input.configFile} lists and the last backup saved (${shown}): is db_name wrong, or was the database recreated empty? ` +
    'Nothing was backed up or changed. If these tables were dropped on purpose, remove them from ' +
    `${input.configFile} and run again.`
  );
}
