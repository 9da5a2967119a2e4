/**
 * Moving fully loaded staging tables into place, inside the target database.
 * Every step records how to undo itself; if a later step fails, the undo log
 * runs backwards and the target is as it was. Tables move with one RENAME
 * TABLE statement (atomic); replaced tables are parked under a hashed name
 * until the end. Foreign keys (taken out of the staging tables: constraint
 * names are unique per database) are added once their tables are in place;
 * rows merged into existing tables go in one transaction, last, so its
 * COMMIT is the point of no return.
 */
import type { Db } from '../db/connect';
import { quoteIdent, quoteQualified, quoteString } from '../db/quote';
import { foreignKeyName, stagingCreate } from './staging';
import { DatabaseError, errorMessage } from '../errors';
import type { Logger } from '../log';
import type { RoutineDef } from './statements';

export interface MovedTable {
  table: string;
  /** Its staging table in the target database. */
  staging: string;
  /** Foreign keys to add once it is in place (`CONSTRAINT … FOREIGN KEY …`). */
  foreignKeys: string[];
}

export interface CommitPlan {
  target: string;
  /** Tables new to the target. */
  create: MovedTable[];
  /** Tables whose target copy is replaced: parked under `parked` until the end, then dropped. */
  replace: (MovedTable & { parked: string })[];
  /** Tables whose rows are merged by key from their staging table: the non-generated columns of each. */
  merge: MergedTable[];
  /** Triggers of created and replaced tables. */
  triggers: RoutineDef[];
  /** Views in dependency order (created or replaced). */
  views: RoutineDef[];
}

export interface MergedTable {
  table: string;
  staging: string;
  /** Columns written (not generated, not a period column). */
  columns: string[];
  /** A sequence: moved forward to the backup's next value (SETVAL never moves it back). */
  sequence?: boolean;
  /** A system-versioned table: the backup's history rows are added too (those the target has are kept). */
  history?: { rowStart: string; rowEnd: string };
}

/** The statements that merge one table's staging rows into it (current rows by key; then history, if versioned). */
export function mergeStatements(target: string, m: MergedTable): string[] {
  const into = quoteQualified(target, m.table);
  const from = quoteQualified(target, m.staging);
  const cols = m.columns.map(quoteIdent);
  const update = cols.map((c) => `${c} = VALUES(${c})`).join(', ');
  if (!m.history) return [`INSERT INTO ${into} (${cols.join(',')}) SELECT ${cols.join(',')} FROM ${from} ON DUPLICATE KEY UPDATE ${update}`];
  // A versioned table records every update, even to equal values: rows the target already holds byte for byte are left out.
  const same = cols.map((c) => `BINARY o.${c} <=> BINARY s.${c}`).join(' AND ');
  const out = [
    `INSERT INTO ${into} (${cols.join(',')}) SELECT ${cols.map((c) => `s.${c}`).join(',')} FROM ${from} s WHERE NOT EXISTS (SELECT 1 FROM ${into} o WHERE ${same}) ON DUPLICATE KEY UPDATE ${update}`,
  ];
  {
    // History rows end in the past; a version the target already has (same key and row end) is kept.
    const period = [quoteIdent(m.history.rowStart), quoteIdent(m.history.rowEnd)];
    const all = [...cols, ...period].join(',');
    out.push(`INSERT IGNORE INTO ${into} (${all}) SELECT ${all} FROM ${from} FOR SYSTEM_TIME ALL WHERE ${period[1]} < NOW(6)`);
  }
  return out;
}

type Undo = { what: string; run: () => Promise<void> };

/** `CREATE …` -> `CREATE OR REPLACE …` (views only). */
function orReplace(create: string): string {
  return /^CREATE\s+OR\s+REPLACE\b/i.test(create) ? create : create.replace(/^CREATE\b/i, 'CREATE OR REPLACE');
}

export async function createRoutine(db: Db, r: RoutineDef, viewReplace: boolean): Promise<void> {
  await db.query(`SET SESSION sql_mode = ${quoteString(r.sqlMode)}`);
  try {
    await db.query(viewReplace ? orReplace(r.create) : r.create);
  } finally {
    await db.query("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'");
  }
}

async function triggersOf(db: Db, database: string, tables: string[]): Promise<RoutineDef[]> {
  if (tables.length === 0) return [];
  const rows = await db.queryArrays(
    `SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? AND EVENT_OBJECT_TABLE IN (${tables.map(() => '?').join(',')})
      ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER`,
    [database, ...tables],
  );
  const out: RoutineDef[] = [];
  for (const [name, table] of rows) {
    const [row] = await db.queryArrays(`SHOW CREATE TRIGGER ${quoteQualified(database, name as string)}`);
    out.push({ name: name as string, table: table as string, sqlMode: (row?.[1] as string) ?? '', create: row?.[2] as string });
  }
  return out;
}

async function viewDefinition(db: Db, database: string, name: string): Promise<RoutineDef | null> {
  const exists = await db.queryArrays('SELECT 1 FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [database, name]);
  if (exists.length === 0) return null;
  const [row] = await db.queryArrays(`SHOW CREATE VIEW ${quoteQualified(database, name)}`);
  return { name, table: null, sqlMode: 'NO_AUTO_VALUE_ON_ZERO', create: row?.[1] as string };
}

/** The foreign keys of a table of the target, as SHOW CREATE TABLE prints them. */
async function foreignKeysOf(db: Db, database: string, table: string): Promise<string[]> {
  const [row] = await db.queryArrays(`SHOW CREATE TABLE ${quoteQualified(database, table)}`);
  return stagingCreate(row?.[1] as string, table, table).foreignKeys;
}

function addForeignKeys(db: Db, database: string, table: string, keys: string[]): Promise<void> {
  return db.query(`ALTER TABLE ${quoteQualified(database, table)} ${keys.map((k) => `ADD ${k}`).join(', ')}`).then(() => undefined);
}

function dropForeignKeys(db: Db, database: string, table: string, keys: string[]): Promise<void> {
  const names = keys.map(foreignKeyName).filter((n): n is string => n !== null);
  return db.query(`ALTER TABLE ${quoteQualified(database, table)} ${names.map((n) => `DROP FOREIGN KEY ${quoteIdent(n)}`).join(', ')}`).then(() => undefined);
}

/**
 * Runs the commit on `db`, a connection whose current database is the target
 * (views and triggers resolve unqualified names against it). Throws
 * DatabaseError after undoing whatever it had done.
 */
export async function commitRestore(db: Db, plan: CommitPlan, log: Logger): Promise<void> {
  const undo: Undo[] = [];
  const step = async (what: string, body: () => Promise<void>, revert?: () => Promise<void>) => {
    try {
      await body();
    } catch (err) {
      throw new DatabaseError(`${what}: ${errorMessage(err)}`, { cause: err });
    }
    if (revert) undo.push({ what, run: revert });
  };
  const { target } = plan;
  const moved = [...plan.create, ...plan.replace];
  try {
    // Foreign keys are added without checking the rows: they were consistent when backed up.
    await db.query('SET SESSION foreign_key_checks = 0');
    // A replaced table's triggers and foreign keys would keep their names on the parked table: drop them, kept to put back.
    const replaced = plan.replace.map((t) => t.table);
    const oldTriggers = await triggersOf(db, target, replaced);
    for (const t of oldTriggers) {
      await step(`dropping trigger ${t.name} of the replaced table ${t.table}`, () => db.query(`DROP TRIGGER ${quoteQualified(target, t.name)}`).then(() => undefined), () => createRoutine(db, t, false));
    }
    for (const table of replaced) {
      const keys = await foreignKeysOf(db, target, table);
      if (keys.length === 0) continue;
      await step(`dropping the foreign keys of the replaced table ${table}`, () => dropForeignKeys(db, target, table, keys), () => addForeignKeys(db, target, table, keys));
    }
    const renames = [
      ...plan.replace.map((t) => [quoteQualified(target, t.table), quoteQualified(target, t.parked)]),
      ...moved.map((t) => [quoteQualified(target, t.staging), quoteQualified(target, t.table)]),
    ];
    if (renames.length > 0) {
      const back = [
        ...moved.map((t) => [quoteQualified(target, t.table), quoteQualified(target, t.staging)]),
        ...plan.replace.map((t) => [quoteQualified(target, t.parked), quoteQualified(target, t.table)]),
      ];
      const sql = (pairs: string[][]) => `RENAME TABLE ${pairs.map(([a, b]) => `${a} TO ${b}`).join(', ')}`;
      await step('moving the restored tables into place', () => db.query(sql(renames)).then(() => undefined), () => db.query(sql(back)).then(() => undefined));
    }
    for (const t of moved) {
      if (t.foreignKeys.length === 0) continue;
      await step(`adding the foreign keys of table ${t.table}`, () => addForeignKeys(db, target, t.table, t.foreignKeys), () => dropForeignKeys(db, target, t.table, t.foreignKeys));
    }
    for (const t of plan.triggers) {
      await step(`creating trigger ${t.name} on ${t.table}`, () => createRoutine(db, t, false), () => db.query(`DROP TRIGGER IF EXISTS ${quoteQualified(target, t.name)}`).then(() => undefined));
    }
    for (const v of plan.views) {
      const old = await viewDefinition(db, target, v.name);
      await step(`creating view ${v.name}`, () => createRoutine(db, v, true), () =>
        old ? createRoutine(db, old, true) : db.query(`DROP VIEW IF EXISTS ${quoteQualified(target, v.name)}`).then(() => undefined),
      );
    }
    if (plan.merge.length > 0) {
      await db.query('START TRANSACTION');
      try {
        if (plan.merge.some((m) => m.history)) await db.query('SET SESSION system_versioning_insert_history = 1');
        for (const m of plan.merge) {
          if (m.sequence) {
            // Not undone by ROLLBACK, but only ever forward: at worst a gap in the numbers.
            await step(`moving sequence ${m.table} forward`, async () => {
              const [[next]] = await db.queryArrays(`SELECT next_not_cached_value FROM ${quoteQualified(target, m.staging)}`);
              await db.query(`SELECT SETVAL(${quoteQualified(target, m.table)}, ${BigInt(next as string | number | bigint).toString()}, 0)`);
            });
            continue;
          }
          // Column lists from the staging table's catalogue, not from the backup's INSERTs (which may have none).
          for (const sql of mergeStatements(target, m)) await step(`merging rows of table ${m.table}`, () => db.query(sql).then(() => undefined));
        }
        await db.query('COMMIT');
      } catch (err) {
        await db.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    }
  } catch (err) {
    for (const u of undo.reverse()) {
      try {
        await u.run();
      } catch (undoErr) {
        log.error('could not undo a restore step; the target needs a look', { step: u.what, error: errorMessage(undoErr) });
      }
    }
    throw err;
  }
  if (plan.replace.length > 0) {
    await db
      .query(`DROP TABLE IF EXISTS ${plan.replace.map((t) => quoteQualified(target, t.parked)).join(', ')}`)
      .catch((err) => log.warn('could not drop the replaced tables (the next restore into this database removes them)', { tables: plan.replace.map((t) => t.parked).join(','), error: errorMessage(err) }));
  }
}
