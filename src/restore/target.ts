/**
 * What the target database holds, read before anything of it changes: its
 * objects, whether a table can take a merge, and definers without an account.
 */
import type { Db } from '../db/connect';
import { quoteIdent } from '../db/quote';
import { withoutAutoIncrementCounter } from '../dump/structure';
import { errorMessage } from '../errors';
import type { Logger } from '../log';
import { accountCount, schemaExists, schemaObjects, showCreateTableSql, uniqueKeyOf } from './sql';
import { isLeftover, stagingCreate } from './staging';
import { definerOf, type RoutineDef } from './statements';
import type { RestoreSummary } from './summary';

export interface TargetObjects {
  exists: boolean;
  tables: Set<string>;
  views: Set<string>;
  sequences: Set<string>;
  /** Staging tables a killed restore left behind. */
  leftovers: string[];
}

/** What the target holds: its tables and views, and staging tables a killed restore left behind. */
export async function targetObjects(db: Db, database: string): Promise<TargetObjects> {
  const schema = await db.queryArrays(...schemaExists(database));
  const rows = await db.queryArrays(...schemaObjects(database));
  const tables = new Set<string>();
  const views = new Set<string>();
  const sequences = new Set<string>();
  const leftovers: string[] = [];
  for (const [name, type] of rows) {
    if (type !== 'VIEW' && isLeftover(name as string)) leftovers.push(name as string);
    else (type === 'VIEW' ? views : tables).add(name as string);
    if (type === 'SEQUENCE') sequences.add(name as string);
  }
  return { exists: schema.length > 0, tables, views, sequences, leftovers };
}

/** Definers of triggers and views that have no account on the server (they fail when used, error 1449). */
export async function missingDefiners(db: Db, routines: { kind: 'trigger' | 'view'; def: RoutineDef }[], log: Logger): Promise<RestoreSummary['missingDefiners']> {
  const out: RestoreSummary['missingDefiners'] = [];
  const known = new Map<string, boolean>();
  for (const { kind, def } of routines) {
    const definer = definerOf(def.create);
    if (!definer) continue;
    const key = `${definer[0]}@${definer[1]}`;
    if (!known.has(key)) {
      try {
        const rows = await db.queryArrays(...accountCount(...definer));
        known.set(key, Number(rows[0]?.[0]) > 0);
      } catch (err) {
        log.warn('cannot check whether a definer exists (no access to mysql.user)', { definer: key, error: errorMessage(err) });
        known.set(key, true);
      }
    }
    if (!known.get(key)) out.push({ kind, name: def.name, definer: `${quoteIdent(definer[0])}@${quoteIdent(definer[1])}` });
  }
  return out;
}

/** SHOW CREATE TABLE of the target's table and of its staging copy, modulo name, foreign keys and AUTO_INCREMENT counter: equal, or why not. */
export async function structureDifference(db: Db, target: string, table: string, staging: string, matchRows: boolean): Promise<string | null> {
  const show = async (name: string) =>
    withoutAutoIncrementCounter(stagingCreate((await db.queryArrays(showCreateTableSql(target, name)))[0]?.[1] as string, name, 'x').create);
  if ((await show(staging)) !== (await show(table))) return 'its structure in the target differs from the backup';
  // Rows are matched by key; a sequence merges by moving forward (SETVAL), a table without rows has nothing to match.
  return matchRows ? keyProblem(db, target, table) : null;
}

/** Why rows of the target's `table` cannot be matched to the backup's, or null. */
export async function keyProblem(db: Db, target: string, table: string): Promise<string | null> {
  const keys = await db.queryArrays(...uniqueKeyOf(target, table));
  return keys.length === 0 ? 'it has no primary or unique key, so rows cannot be matched' : null;
}

