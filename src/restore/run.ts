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
import { classFigures, closeSummary } from '../domain/summary';
import type { BackupConfig, DbCredentials } from '../config/types';
import { connect, type Db } from '../db/connect';
import { describeTables } from '../db/introspect';
import { quoteIdent } from '../db/quote';
import { progress } from '../dump/progress';
import { InterruptedError, PrivilegeError, RefusalError, UsageError, VerifyError, errorMessage } from '../errors';
import type { Logger } from '../log';
import type { Quiescer } from '../services/types';
import { commitRestore, type CommitPlan } from './commit';
import { Loader, readTriggers, type LoadedTable } from './load';
import { planRestore, type OnlyPart, type RestoreMode, type RestorePlan } from './plan';
import { privilegeProblem, readGrants, type Grants } from './privileges';
import { checkFiles, readBackupSource, type BackupSource } from './source';
import { splitStatements } from './split';
import { createDatabaseSql, dropDatabaseSql, dropTablesSql, useDatabaseSql } from './sql';
import { parkedName, stagingName, type RunId } from './staging';
import { classifyStatement, createdName, definerOf, withCurrentDefiner, type RoutineDef } from './statements';
import { newRestoreSummary, type RestoredTable, type RestoreSummary } from './summary';
import { keyProblem, missingDefiners, structureDifference, targetObjects, type TargetObjects } from './target';

/**
 * Loading connections. The server does the work (parsing and inserting: about 9/10 of
 * the CPU of a restore); two keep both cores busy while the client reads the next query.
 */
const RESTORE_LANES = 2;

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
  /** Loading connections (default RESTORE_LANES). */
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

/** The views file's CREATE VIEW statements, in its (dependency) order. */
async function readViews(source: BackupSource): Promise<RoutineDef[]> {
  if (!source.views) return [];
  const text = await fs.readFile(source.views.path);
  return splitStatements(text)
    .filter((s) => classifyStatement(s) === 'create-view')
    .map((create) => ({ name: createdName(create, 'VIEW') ?? '?', table: null, sqlMode: 'NO_AUTO_VALUE_ON_ZERO', create }));
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

/** What the steps of one restore share; the cleanup reads what was created and opened from here. */
interface RestoreRun {
  req: RestoreRequest;
  deps: RestoreDeps;
  log: Logger;
  target: string;
  admin: Db;
  summary: RestoreSummary;
  /** One run's staging names: `_sbr_<run>_<hash of the table name>`. */
  id: RunId;
  staged: string[];
  createdTarget: boolean;
  loader: Loader | null;
  quiesced: boolean;
}

/** Triggers and views the restore creates, as they will be created (with `--definer current`, rewritten). */
interface Routines {
  triggers: RoutineDef[];
  views: RoutineDef[];
}


const throwIfAborted = (run: RestoreRun): void => {
  if (run.deps.signal?.aborted) throw new InterruptedError('restore interrupted by a signal; the target was not changed');
};

export async function runRestore(req: RestoreRequest, deps: RestoreDeps): Promise<RestoreSummary> {
  const now = deps.now ?? (() => new Date());
  const started = now();
  const hostDir = join(req.config.csv2BackupDir, req.hostName);
  const target = req.database ?? req.credentials.database;
  const source = await readSource(req, hostDir, deps.log);
  const summary = newRestoreSummary(started, { dryRun: req.dryRun, mode: req.mode, target, hostDir, snapshot: source.snapshotName });
  const admin = await connect({ ...req.credentials, database: '' });
  const run: RestoreRun = { req, deps, log: deps.log, target, admin, summary, id: randomBytes(4).toString('hex'), staged: [], createdTarget: false, loader: null, quiesced: false };
  let failed = true;
  const onAbort = () => run.loader?.destroy();
  deps.signal?.addEventListener('abort', onAbort);
  try {
    const existing = await targetObjects(admin, target);
    const views = await readViews(source);
    const plan = await planChecked(run, source, existing);
    await checkChecksums(run, plan, source);
    const routines = await readRoutines(req, plan, source, views);
    await checkPrivileges(run, existing, plan, routines);
    summary.tables = plannedTables(plan);
    if (req.dryRun) {
      dryRunFigures(summary, routines, existing);
      failed = false;
      return summary;
    }
    await quiesce(run);
    await prepareTarget(run, existing);
    const loaded = await loadStaging(run, plan);
    const merge = await mergePlan(run, plan, existing);
    await checkDefiners(run, routines);
    await commit(run, plan, loaded, merge, routines);
    restoredFigures(summary, loaded, routines);
    failed = false;
  } catch (err) {
    if (deps.signal?.aborted && !(err instanceof InterruptedError)) throw new InterruptedError('restore interrupted by a signal; the target was not changed', { cause: err });
    throw err;
  } finally {
    deps.signal?.removeEventListener('abort', onAbort);
    await cleanUp(run, failed);
  }
  return closeSummary(summary, started, now());
}

async function readSource(req: RestoreRequest, hostDir: string, log: Logger): Promise<BackupSource> {
  const source = await readBackupSource({ hostDir, userDataDir: req.config.userDataBackupDir, snapshot: req.snapshot });
  if (req.config.userDataBackupDir && !source.snapshotName) log.warn('no user-data snapshot: local tables come back without rows', { dir: req.config.userDataBackupDir });
  return source;
}

/** The plan, or why not: unknown tables, conflicts with the target, tables --merge cannot match. */
async function planChecked(run: RestoreRun, source: BackupSource, existing: TargetObjects): Promise<RestorePlan> {
  const { req, target } = run;
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
      const why = await keyProblem(run.admin, target, t.source.table);
      if (why) unkeyed.push({ table: t.source.table, reason: why });
    }
    if (unkeyed.length) throw mergeRefusal(target, unkeyed);
  }
  if (req.mode === 'replace') {
    const replaced = plan.tables.filter((t) => t.action === 'replace').map((t) => t.source.table);
    if (replaced.length) run.log.warn('--replace: these tables are dropped and recreated from the backup', { database: target, tables: replaced.join(',') });
  }
  return plan;
}

/** Every file the plan reads must match its manifest: nothing is restored otherwise. */
async function checkChecksums(run: RestoreRun, plan: RestorePlan, source: BackupSource): Promise<void> {
  if (run.req.skipChecksums) {
    run.log.warn('checksums of the backup files are not checked (internal option)');
    return;
  }
  const files = plan.tables.map((t) => ({ path: t.source.path, sha256: t.source.sha256 }));
  if (plan.views && source.views) files.push({ path: source.views.path, sha256: source.views.sha256 });
  const bad = await checkFiles(files);
  if (bad.length) {
    throw new VerifyError(`backup files differ from their manifest; nothing was restored:\n${bad.map((b) => `  ${b.path}: ${b.problem}`).join('\n')}`);
  }
}

async function readRoutines(req: RestoreRequest, plan: RestorePlan, source: BackupSource, views: RoutineDef[]): Promise<Routines> {
  const restoredViews = plan.views ? views.filter((v) => source.views?.names.includes(v.name)) : [];
  const rewrite = (r: RoutineDef): RoutineDef => (req.definer === 'current' ? { ...r, create: withCurrentDefiner(r.create) } : r);
  // Triggers of merged tables are the target's own; the others come back with their tables.
  const triggers: RoutineDef[] = [];
  for (const t of plan.tables) {
    if (t.action !== 'merge' && t.source.triggers.length > 0) triggers.push(...(await readTriggers(t.source.path, t.source.compressed, t.source.table)).map(rewrite));
  }
  return { triggers, views: restoredViews.map(rewrite) };
}

/** Every privilege the restore will use, checked before anything is touched (a dry run too). */
async function checkPrivileges(run: RestoreRun, existing: TargetObjects, plan: RestorePlan, routines: Routines): Promise<void> {
  const grants = await readGrants(run.admin);
  const problem = privilegeProblem(
    grants,
    {
      database: run.target,
      createDatabase: !existing.exists,
      merge: plan.tables.some((t) => t.action === 'merge'),
      triggers: routines.triggers.length > 0 || plan.tables.some((t) => t.action === 'replace'),
      views: routines.views.length > 0,
      foreignDefiners: foreignDefiners([...routines.triggers, ...routines.views], grants),
    },
    `restore into database ${run.target}`,
  );
  if (problem && grants.roleActive) run.log.warn('privileges may be missing (those of the active role cannot be checked)', { problem });
  else if (problem) throw new PrivilegeError(problem);
}

function plannedTables(plan: RestorePlan): RestoredTable[] {
  return plan.tables.map((t) => ({ table: t.source.table, class: t.source.class, action: t.action, withRows: t.withRows, rows: t.withRows ? t.source.rows ?? 0 : 0, origin: t.source.origin }));
}

/** What a dry run says it would restore: the manifest's row counts. */
function dryRunFigures(summary: RestoreSummary, routines: Routines, existing: TargetObjects): void {
  summary.perClass = classFigures(summary.tables);
  summary.triggers = routines.triggers.length;
  summary.views = routines.views.length;
  if (existing.leftovers.length) summary.warnings.push(`staging tables of an interrupted restore would be removed: ${existing.leftovers.join(', ')}`);
}

async function quiesce(run: RestoreRun): Promise<void> {
  throwIfAborted(run);
  await run.deps.quiescer.quiesce();
  run.quiesced = true;
  throwIfAborted(run);
}

/** Creates the target if missing; removes the staging tables a killed restore left there. */
async function prepareTarget(run: RestoreRun, existing: TargetObjects): Promise<void> {
  if (!existing.exists) {
    await run.admin.query(createDatabaseSql(run.target));
    run.createdTarget = true;
  }
  if (existing.leftovers.length) {
    run.log.warn('removing staging tables of an interrupted restore', { database: run.target, tables: existing.leftovers.join(',') });
    await run.admin.query(dropTablesSql(run.target, existing.leftovers));
  }
}

/** Loads every planned table into its staging table. */
async function loadStaging(run: RestoreRun, plan: RestorePlan): Promise<Map<string, LoadedTable>> {
  const files = [];
  for (const t of plan.tables) {
    const staging = stagingName(run.id, t.source.table);
    run.staged.push(staging);
    files.push({ table: t.source.table, staging, path: t.source.path, compressed: t.source.compressed, withRows: t.withRows, bytes: (await fs.stat(t.source.path)).size, rowPieces: t.source.statementBytes !== null, statementBytes: t.source.statementBytes });
  }
  progress.loadPlanned(files.reduce((n, f) => n + f.bytes, 0));
  run.loader = await Loader.open(run.req.credentials, run.target, { lanes: run.req.parallel ?? RESTORE_LANES, admin: run.admin });
  // A signal while the connections opened found no loader to stop.
  throwIfAborted(run);
  run.log.info('loading into staging tables', { database: run.target, tables: plan.tables.length });
  // The bar ends with the load, also when it fails (a daemon's later runs must not report it).
  const loaded = await run.loader.loadAll(files).finally(() => progress.loadPlanned(0));
  throwIfAborted(run);
  return loaded;
}

/** The merged tables' columns and kinds; a merge that cannot be whole is refused (nothing of the target has changed yet). */
async function mergePlan(run: RestoreRun, plan: RestorePlan, existing: TargetObjects): Promise<CommitPlan['merge']> {
  const { admin, target, summary } = run;
  const merge: CommitPlan['merge'] = [];
  const details = plan.tables.some((t) => t.action === 'merge') ? await describeTables({ ...admin, database: target }) : null;
  for (const t of plan.tables.filter((x) => x.action === 'merge')) {
    const staging = stagingName(run.id, t.source.table);
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
  if (summary.mismatched.length) throw mergeRefusal(target, summary.mismatched);
  return merge;
}

async function checkDefiners(run: RestoreRun, routines: Routines): Promise<void> {
  const all = [...routines.triggers.map((def) => ({ kind: 'trigger' as const, def })), ...routines.views.map((def) => ({ kind: 'view' as const, def }))];
  run.summary.missingDefiners = await missingDefiners(run.admin, all, run.log);
  for (const d of run.summary.missingDefiners) run.log.warn('definer does not exist: fails when used (error 1449)', { [d.kind]: d.name, definer: d.definer });
}

/** Moves the staging tables into place, merges, creates triggers and views: all of it, or (undone) none. */
async function commit(run: RestoreRun, plan: RestorePlan, loaded: Map<string, LoadedTable>, merge: CommitPlan['merge'], routines: Routines): Promise<void> {
  await run.admin.query(useDatabaseSql(run.target));
  // The last point at which a signal stops the restore: commitRestore moves everything in, or undoes itself.
  throwIfAborted(run);
  const moved = (action: 'create' | 'replace') =>
    plan.tables
      .filter((t) => t.action === action)
      .map((t) => ({ table: t.source.table, staging: stagingName(run.id, t.source.table), parked: parkedName(run.id, t.source.table), foreignKeys: loaded.get(t.source.table)?.foreignKeys ?? [] }));
  await commitRestore(run.admin, { target: run.target, create: moved('create'), replace: moved('replace'), merge, triggers: routines.triggers, views: routines.views }, run.log);
}

/** What the restore did: the rows loaded, without the tables --merge left alone. */
function restoredFigures(summary: RestoreSummary, loaded: Map<string, LoadedTable>, routines: Routines): void {
  const skipped = new Set(summary.mismatched.map((m) => m.table));
  summary.tables = summary.tables.filter((t) => !skipped.has(t.table));
  for (const t of summary.tables) t.rows = loaded.get(t.table)?.rows ?? 0;
  summary.perClass = classFigures(summary.tables);
  summary.triggers = routines.triggers.length;
  summary.views = routines.views.length;
}

/** On every path: the loader closed, staging tables not moved in dropped, a target this run created and failed dropped, consumers resumed. */
async function cleanUp(run: RestoreRun, failed: boolean): Promise<void> {
  const { admin, target, log } = run;
  if (run.loader) {
    if (failed) run.loader.destroy();
    else await run.loader.close();
  }
  // Staging tables not moved in (merged ones, or all of them after a failure).
  if (run.staged.length && !(failed && run.createdTarget)) {
    await admin
      .query(dropTablesSql(target, run.staged))
      .catch((err) => log.warn('could not drop the staging tables (the next restore into this database removes them)', { database: target, error: errorMessage(err) }));
  }
  if (failed && run.createdTarget) await admin.query(dropDatabaseSql(target)).catch(() => undefined);
  await admin.close();
  if (run.quiesced) {
    await run.deps.quiescer.resume({ backupFailed: failed });
    run.summary.services = run.deps.quiescer.report();
  }
}
