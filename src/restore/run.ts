/**
 * One restore, start to end: read and check the backup, plan, check the
 * privileges, stop consumers, load every table into a staging table inside
 * the target database, then move them into place in one undoable commit.
 * A failure before that commit leaves the target's own tables untouched; the
 * staging tables are dropped on every path (and, after a kill, by the next
 * restore into that database). Nothing beyond the target database is needed.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { closeSummary, type SummaryClass } from '../domain/summary';
import type { BackupConfig, DbCredentials } from '../config/types';
import { connect, type Db } from '../db/connect';
import { describeTables } from '../db/introspect';
import { quoteIdent, quoteQualified } from '../db/quote';
import { withoutAutoIncrementCounter } from '../dump/structure';
import { InterruptedError, PrivilegeError, RefusalError, UsageError, VerifyError, errorMessage } from '../errors';
import type { Logger } from '../log';
import type { Quiescer } from '../services/types';
import { splitStatements } from './split';
import { commitRestore, type CommitPlan } from './commit';
import { progress } from '../dump/progress';

/**
 * Loading connections. The server does the work (parsing and inserting: about 3/4 of
 * the CPU of a restore); two keep it busy while the client reads the next statement,
 * and each holds a statement of up to 16 MiB twice (text and packet), so more cost memory.
 */
const RESTORE_LANES = 2;
import { Loader, readTriggers, type LoadedTable } from './load';
import { planRestore, type OnlyPart, type RestoreMode } from './plan';
import { privilegeProblem, readGrants, type Grants } from './privileges';
import { isLeftover, parkedName, stagingCreate, stagingName } from './staging';
import { checkFiles, readBackupSource, type BackupSource } from './source';
import { classifyStatement, createdName, definerOf, withCurrentDefiner, type RoutineDef } from './statements';
import { emptyClassFigures, type RestoreSummary } from './summary';

export interface RestoreRequest {
  config: BackupConfig;
  credentials: DbCredentials;
  hostName: string;
  /** `latest` or YYYYmmddHHMMSS. */
  snapshot: string;
  /** --database: restore into this database instead of the configured one (created if missing). */
  database: string | null;
  tables: string[] | null;
  only: OnlyPart | null;
  mode: RestoreMode;
  dryRun: boolean;
  /** `--definer current`: triggers and views are recreated with the restoring user as definer. */
  definer: 'keep' | 'current';
  /**
   * Internal (tests only, no command-line flag): load files whose sha256 differs
   * from the manifest, to prove that a load failing part-way changes nothing.
   */
  skipChecksums?: boolean;
  /** Loading connections (default 3). */
  parallel?: number;
}

export interface RestoreDeps {
  log: Logger;
  quiescer: Quiescer;
  /** SIGINT/SIGTERM: the load is cut and the target left as it was (the staging database is dropped). */
  signal?: AbortSignal;
  now?: () => Date;
}

/** A name no real database has: a prefix of our own and random hex. */
export function scratchName(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/** What the target holds: its tables and views, and staging tables a killed restore left behind. */
async function targetObjects(db: Db, database: string): Promise<{ exists: boolean; tables: Set<string>; views: Set<string>; sequences: Set<string>; leftovers: string[] }> {
  const schema = await db.queryArrays('SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [database]);
  const rows = await db.queryArrays('SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [database]);
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

/** The views file's CREATE VIEW statements, in its (dependency) order. */
async function readViews(source: BackupSource): Promise<RoutineDef[]> {
  if (!source.views) return [];
  const text = await fs.readFile(source.views.path);
  return splitStatements(text)
    .filter((s) => classifyStatement(s) === 'create-view')
    .map((create) => ({ name: createdName(create, 'VIEW') ?? '?', table: null, sqlMode: 'NO_AUTO_VALUE_ON_ZERO', create }));
}

async function missingDefiners(db: Db, routines: { kind: 'trigger' | 'view'; def: RoutineDef }[], log: Logger): Promise<RestoreSummary['missingDefiners']> {
  const out: RestoreSummary['missingDefiners'] = [];
  const known = new Map<string, boolean>();
  for (const { kind, def } of routines) {
    const definer = definerOf(def.create);
    if (!definer) continue;
    const key = `${definer[0]}@${definer[1]}`;
    if (!known.has(key)) {
      try {
        const rows = await db.queryArrays('SELECT COUNT(*) FROM mysql.user WHERE User = ? AND Host = ?', definer);
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
async function structureDifference(db: Db, target: string, table: string, staging: string, matchRows: boolean): Promise<string | null> {
  const show = async (name: string) =>
    withoutAutoIncrementCounter(stagingCreate((await db.queryArrays(`SHOW CREATE TABLE ${quoteQualified(target, name)}`))[0]?.[1] as string, name, 'x').create);
  if ((await show(staging)) !== (await show(table))) return 'its structure in the target differs from the backup';
  // Rows are matched by key; a sequence merges by moving forward (SETVAL), a table without rows has nothing to match.
  return matchRows ? keyProblem(db, target, table) : null;
}

/** Why rows of the target's `table` cannot be matched to the backup's, or null. */
async function keyProblem(db: Db, target: string, table: string): Promise<string | null> {
  const keys = await db.queryArrays(
    "SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 LIMIT 1",
    [target, table],
  );
  return keys.length === 0 ? 'it has no primary or unique key, so rows cannot be matched' : null;
}

/** --merge cannot do all it was asked: refused before the target is changed (exit 2), naming each table and why. */
function mergeRefusal(target: string, problems: { table: string; reason: string }[]): RefusalError {
  const list = problems.map((p) => `  ${p.table}: ${p.reason}`).join('\n');
  return new RefusalError(
    `--merge into database ${target} cannot merge ${problems.length === 1 ? 'this table' : 'these tables'}; nothing was changed:\n${list}\n` +
      'Restore them with --replace, or leave them out with --tables.',
  );
}

/** Definers (other than the restoring user) that triggers and views would keep: creating them needs SET USER. */
function foreignDefiners(routines: readonly RoutineDef[], grants: Grants): string[] {
  const out = new Set<string>();
  for (const r of routines) {
    const d = definerOf(r.create);
    if (d && (d[0] !== grants.user || d[1] !== grants.host)) out.add(`${quoteIdent(d[0])}@${quoteIdent(d[1])}`);
  }
  return [...out];
}

export async function runRestore(req: RestoreRequest, deps: RestoreDeps): Promise<RestoreSummary> {
  const { log } = deps;
  const now = deps.now ?? (() => new Date());
  const started = now();
  const hostDir = join(req.config.csv2BackupDir, req.hostName);
  const target = req.database ?? req.credentials.database;
  const source = await readBackupSource({ hostDir, userDataDir: req.config.userDataBackupDir, snapshot: req.snapshot });
  if (req.config.userDataBackupDir && !source.snapshotName) log.warn('no user-data snapshot: local tables come back without rows', { dir: req.config.userDataBackupDir });

  const summary: RestoreSummary = {
    startedAt: started.toISOString(),
    finishedAt: '',
    durationMs: 0,
    dryRun: req.dryRun,
    mode: req.mode,
    target,
    hostDir,
    snapshot: source.snapshotName,
    tables: [],
    perClass: emptyClassFigures(),
    triggers: 0,
    views: 0,
    mismatched: [],
    missingDefiners: [],
    services: null,
    warnings: [],
    errors: [],
  };

  const admin = await connect({ ...req.credentials, database: '' });
  // One run's staging names: `_sbr_<run>_<hash of the table name>`.
  const run = randomBytes(4).toString('hex');
  const staged: string[] = [];
  let createdTarget = false;
  let loader: Loader | null = null;
  let quiesced = false;
  let failed = true;
  const throwIfAborted = () => {
    if (deps.signal?.aborted) throw new InterruptedError('restore interrupted by a signal; the target was not changed');
  };
  const onAbort = () => loader?.destroy();
  deps.signal?.addEventListener('abort', onAbort);
  try {
    const existing = await targetObjects(admin, target);
    const views = await readViews(source);
    const plan = planRestore(source.tables, { tables: req.tables, only: req.only, mode: req.mode }, existing, source.views?.names ?? []);
    if (plan.unknown.length) throw new UsageError(`--tables: not in the backup of ${req.hostName}: ${plan.unknown.join(', ')}`);
    if (plan.conflicts.length) {
      throw new RefusalError(
        req.mode === 'empty'
          ? `database ${target} already holds ${plan.conflicts.join(', ')}; nothing was changed. Restore into another database (--database NAME), or pass --merge (backup rows win, other rows stay) or --replace (drops and recreates them)`
          : `database ${target}: a table would take the place of a view or the reverse: ${plan.conflicts.join(', ')}; nothing was changed`,
      );
    }
    if (req.mode === 'merge') {
      // A table without a key cannot be merged: said before anything is loaded (--dry-run too).
      const unkeyed: { table: string; reason: string }[] = [];
      for (const t of plan.tables.filter((x) => x.action === 'merge' && x.withRows && !existing.sequences.has(x.source.table))) {
        const why = await keyProblem(admin, target, t.source.table);
        if (why) unkeyed.push({ table: t.source.table, reason: why });
      }
      if (unkeyed.length) throw mergeRefusal(target, unkeyed);
    }
    if (req.mode === 'replace') {
      const replaced = plan.tables.filter((t) => t.action === 'replace').map((t) => t.source.table);
      if (replaced.length) log.warn('--replace: these tables are dropped and recreated from the backup', { database: target, tables: replaced.join(',') });
    }
    if (!req.skipChecksums) {
      const files = plan.tables.map((t) => ({ path: t.source.path, sha256: t.source.sha256 }));
      if (plan.views && source.views) files.push({ path: source.views.path, sha256: source.views.sha256 });
      const bad = await checkFiles(files);
      if (bad.length) {
        throw new VerifyError(`backup files differ from their manifest; nothing was restored:\n${bad.map((b) => `  ${b.path}: ${b.problem}`).join('\n')}`);
      }
    } else {
      log.warn('checksums of the backup files are not checked (internal option)');
    }

    const restoredViews = plan.views ? views.filter((v) => source.views?.names.includes(v.name)) : [];
    const rewrite = (r: RoutineDef): RoutineDef => (req.definer === 'current' ? { ...r, create: withCurrentDefiner(r.create) } : r);
    // Triggers of merged tables are the target's own; the others come back with their tables.
    const triggers: RoutineDef[] = [];
    for (const t of plan.tables) {
      if (t.action !== 'merge' && t.source.triggers.length > 0) triggers.push(...(await readTriggers(t.source.path, t.source.compressed, t.source.table)).map(rewrite));
    }
    const viewDefs = restoredViews.map(rewrite);

    // Every privilege the restore will use, checked before anything is touched (a dry run too).
    const grants = await readGrants(admin);
    const problem = privilegeProblem(
      grants,
      {
        database: target,
        createDatabase: !existing.exists,
        merge: plan.tables.some((t) => t.action === 'merge'),
        triggers: triggers.length > 0 || plan.tables.some((t) => t.action === 'replace'),
        views: viewDefs.length > 0,
        foreignDefiners: foreignDefiners([...triggers, ...viewDefs], grants),
      },
      `restore into database ${target}`,
    );
    if (problem && grants.roleActive) log.warn('privileges may be missing (those of the active role cannot be checked)', { problem });
    else if (problem) throw new PrivilegeError(problem);

    for (const t of plan.tables) {
      summary.tables.push({ table: t.source.table, class: t.source.class, action: t.action, withRows: t.withRows, rows: t.withRows ? t.source.rows ?? 0 : 0, origin: t.source.origin });
    }
    if (req.dryRun) {
      for (const t of summary.tables) {
        summary.perClass[t.class].tables++;
        summary.perClass[t.class].rows += t.rows;
      }
      summary.triggers = triggers.length;
      summary.views = restoredViews.length;
      if (existing.leftovers.length) summary.warnings.push(`staging tables of an interrupted restore would be removed: ${existing.leftovers.join(', ')}`);
      failed = false;
      return summary;
    }

    throwIfAborted();
    await deps.quiescer.quiesce();
    quiesced = true;
    throwIfAborted();

    if (!existing.exists) {
      await admin.query(`CREATE DATABASE ${quoteIdent(target)}`);
      createdTarget = true;
    }
    if (existing.leftovers.length) {
      log.warn('removing staging tables of an interrupted restore', { database: target, tables: existing.leftovers.join(',') });
      await admin.query(`DROP TABLE IF EXISTS ${existing.leftovers.map((n) => quoteQualified(target, n)).join(', ')}`);
    }
    const files = [];
    for (const t of plan.tables) {
      const staging = stagingName(run, t.source.table);
      staged.push(staging);
      files.push({ table: t.source.table, staging, path: t.source.path, compressed: t.source.compressed, withRows: t.withRows, bytes: (await fs.stat(t.source.path)).size, rowPieces: t.source.statementBytes !== null, statementBytes: t.source.statementBytes });
    }
    progress.loadPlanned(files.reduce((n, f) => n + f.bytes, 0));
    loader = await Loader.open(req.credentials, target, req.parallel ?? RESTORE_LANES);
    log.info('loading into staging tables', { database: target, tables: plan.tables.length });
    // The bar ends with the load, also when it fails (a daemon's later runs must not report it).
    const loaded: Map<string, LoadedTable> = await loader.loadAll(files).finally(() => progress.loadPlanned(0));
    throwIfAborted();

    const merge: CommitPlan['merge'] = [];
    const details = plan.tables.some((t) => t.action === 'merge') ? await describeTables({ ...admin, database: target }) : null;
    for (const t of plan.tables.filter((x) => x.action === 'merge')) {
      const staging = stagingName(run, t.source.table);
      const sequence = existing.sequences.has(t.source.table);
      const why = await structureDifference(admin, target, t.source.table, staging, t.withRows && !sequence);
      if (why) {
        summary.mismatched.push({ table: t.source.table, reason: why });
        continue;
      }
      const detail = details?.get(staging);
      // Period columns are the server's to set on current rows; the backup's history rows are added with theirs.
      const columns = (detail?.columns ?? []).filter((c) => !c.generated && !c.period).map((c) => c.name);
      const v = detail?.versioning;
      merge.push({ table: t.source.table, staging, columns, sequence, history: v ? { rowStart: v.rowStart, rowEnd: v.rowEnd } : undefined });
    }
    // Nothing of the target has changed yet: a merge that cannot be whole is refused, not done in part.
    if (summary.mismatched.length) throw mergeRefusal(target, summary.mismatched);
    summary.missingDefiners = await missingDefiners(admin, [...triggers.map((def) => ({ kind: 'trigger' as const, def })), ...viewDefs.map((def) => ({ kind: 'view' as const, def }))], log);
    for (const d of summary.missingDefiners) log.warn('definer does not exist: fails when used (error 1449)', { [d.kind]: d.name, definer: d.definer });

    await admin.query(`USE ${quoteIdent(target)}`);
    // The last point at which a signal stops the restore: commitRestore moves everything in, or undoes itself.
    throwIfAborted();
    const moved = (action: 'create' | 'replace') =>
      plan.tables
        .filter((t) => t.action === action)
        .map((t) => ({ table: t.source.table, staging: stagingName(run, t.source.table), parked: parkedName(run, t.source.table), foreignKeys: loaded.get(t.source.table)?.foreignKeys ?? [] }));
    await commitRestore(admin, { target, create: moved('create'), replace: moved('replace'), merge, triggers, views: viewDefs }, log);

    const skipped = new Set(summary.mismatched.map((m) => m.table));
    summary.tables = summary.tables.filter((t) => !skipped.has(t.table));
    for (const t of summary.tables) {
      t.rows = loaded.get(t.table)?.rows ?? 0;
      const figures = summary.perClass[t.class as SummaryClass];
      figures.tables++;
      figures.rows += t.rows;
    }
    summary.triggers = triggers.length;
    summary.views = viewDefs.length;
    failed = false;
  } catch (err) {
    if (deps.signal?.aborted && !(err instanceof InterruptedError)) throw new InterruptedError('restore interrupted by a signal; the target was not changed', { cause: err });
    throw err;
  } finally {
    deps.signal?.removeEventListener('abort', onAbort);
    if (loader) {
      if (failed) loader.destroy();
      else await loader.close();
    }
    // Staging tables not moved in (merged ones, or all of them after a failure).
    if (staged.length && !(failed && createdTarget)) {
      await admin
        .query(`DROP TABLE IF EXISTS ${staged.map((n) => quoteQualified(target, n)).join(', ')}`)
        .catch((err) => log.warn('could not drop the staging tables (the next restore into this database removes them)', { database: target, error: errorMessage(err) }));
    }
    if (failed && createdTarget) await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(target)}`).catch(() => undefined);
    await admin.close();
    if (quiesced) {
      await deps.quiescer.resume({ backupFailed: failed });
      summary.services = deps.quiescer.report();
    }
  }
  return closeSummary(summary, started, now());
}
