/**
 * One backup run, start to end: check, plan, quiesce consumers, open the
 * snapshot, write every file to temporary names, publish them, complete the
 * user snapshot, commit. A failure at any point leaves the last good backup as
 * it was, and consumers stopped by the run are started again on every path.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Db } from '../db/connect';
import { listTables } from '../db/introspect';
import { openSession, openSnapshot, type Snapshot } from '../db/snapshot';
import type { QuiesceReport } from '../domain/service-report';
import { closeSummary, type BackupSummary } from '../domain/summary';
import { nativeEncoderProblem } from '../dump/native-encoder';
import { progress } from '../dump/progress';
import { viewsText } from '../dump/structure';
import { snapshotStatementBytes } from '../dump/table-rows';
import { DatabaseError, InterruptedError, StoreError, errorMessage } from '../errors';
import { checkBackupDirAllowed, checkRepositoryReady, checkUserDataOutsideGit, ensureDiffDriver, ensureRepository, probeRepository } from '../git/repo';
import type { Logger } from '../log';
import { missingTablesRefusal } from '../plan/missing-tables';
import { planBackup, type BackupPlan } from '../plan/plan';
import { acquireDirLock, type RunLock } from '../services/lock';
import { ensureDir } from '../store/fsutil';
import { parseManifest, renderManifest, type Manifest } from '../store/manifest';
import { hostManifest } from '../store/manifest-build';
import { MANIFEST_FILE, VIEWS_FILE, userDataFileName } from '../store/names';
import { TableDir } from '../store/table-dir';
import { UserSnapshotWriter } from '../store/user-snapshot';
import { settleAll } from './concurrency';
import { phase, throwIfAborted, type BackupDeps, type BackupRequest, type BackupRun } from './context';
import { dumpTables, readStructures, type Destination, type Dumped, type Structures } from './dump-tables';
import { publishAndCommit } from './publish';
import { BackupTally, newBackupSummary } from './summary-builder';

export type { BackupDeps, BackupRequest } from './context';
export { describeChange } from './publish';

/** Connects, lists the tables and plans, touching nothing: `--dry-run` (the backup's own check keeps its connection, below). */
export async function previewPlan(req: BackupRequest): Promise<BackupPlan> {
  const { db, tables } = await checkDatabase(req);
  await db.close();
  return planFor(req, tables);
}

/**
 * The check of the database before anything is stopped: its tables, on a connection in the snapshot's session
 * settings, which the snapshot takes over (one connection less per run).
 */
async function checkDatabase(req: BackupRequest): Promise<{ db: Db; tables: Awaited<ReturnType<typeof listTables>> }> {
  const db = await openSession(req.credentials, { batches: true });
  try {
    return { db, tables: await listTables(db) };
  } catch (err) {
    db.destroy();
    throw err;
  }
}

/** The check's connection until the snapshot takes it, or the run ends without one. */
class SpareConnection {
  constructor(private db: Db | null) {}

  take(): Db | undefined {
    const db = this.db ?? undefined;
    this.db = null;
    return db;
  }

  async drop(): Promise<void> {
    await this.take()?.close();
  }
}

function planFor(req: BackupRequest, dbTables: Awaited<ReturnType<typeof listTables>>): BackupPlan {
  return planBackup({
    classes: req.config.classes,
    configFile: req.config.file,
    dbTables,
    userDataDir: req.config.userDataBackupDir !== null,
    ephemeralDir: req.ephemeralDir !== null,
  });
}

/** Refuses (nothing changed) a database that lacks most of the configured tables the last backup had. */
function refuseMissingTables(req: BackupRequest, dbTables: Awaited<ReturnType<typeof listTables>>, previous: Manifest | null): void {
  const refusal = missingTablesRefusal({
    classes: req.config.classes,
    configFile: req.config.file,
    dbTables,
    previousTables: previous ? previous.tables.map((t) => t.table) : null,
    database: req.credentials.database,
    credentialsFile: req.credentials.source,
  });
  if (refusal) throw new DatabaseError(refusal);
}

/** Takes the lock inside a backup directory, creating the directory first if `create` says how. */
async function lockDir(dir: string, log: Logger, create: () => Promise<void>): Promise<RunLock> {
  await create();
  return acquireDirLock(dir, log);
}

async function readManifest(path: string): Promise<Manifest | null> {
  try {
    return parseManifest(await fs.readFile(path, 'utf8'), path);
  } catch {
    return null;
  }
}

/** What the check before the locks found: reused under them. */
interface Checked {
  probed: Awaited<ReturnType<typeof probeRepository>>;
  preview: BackupPlan;
  previewTables: Awaited<ReturnType<typeof listTables>>;
  spare: SpareConnection;
}

export async function runBackup(req: BackupRequest, deps: BackupDeps): Promise<BackupSummary> {
  const { config } = req;
  const { log } = deps;
  deps.onPhase?.('checking');
  log.debug('phase', { phase: 'checking' });
  await checkBackupDirAllowed(config.csv2BackupDir, config.file);
  // The repository and the database are asked at once; a problem with the directories is reported first.
  // The database must answer before any service is stopped.
  const database = checkDatabase(req);
  const [probed, checkedDb] = await settleAll([
    probeRepository(config.csv2BackupDir).then(async (repo) => {
      if (config.userDataBackupDir) await checkUserDataOutsideGit(config.csv2BackupDir, config.userDataBackupDir, repo);
      return repo;
    }),
    database,
  ]).catch(async (err: unknown) => {
    await database.then((d) => d.db.close(), () => undefined);
    throw err;
  });
  const spare = new SpareConnection(checkedDb.db);
  const previewTables = checkedDb.tables;
  // Runs with another state_dir (another config file) may share these directories: one writer at a time.
  const locks: RunLock[] = [];
  const releaseLocks = async () => {
    for (const l of locks.splice(0).reverse()) await l.release();
  };
  let preview: BackupPlan;
  try {
    preview = planFor(req, previewTables);
    locks.push(
      await lockDir(config.csv2BackupDir, log, () =>
        fs.mkdir(config.csv2BackupDir, { recursive: true }).then(
          () => undefined,
          (err: unknown) => {
            throw new StoreError(`cannot create csv2_backup_dir ${config.csv2BackupDir}: ${errorMessage(err)}`, { cause: err });
          },
        ),
      ),
    );
    const userDir = config.userDataBackupDir;
    if (userDir) locks.push(await lockDir(userDir, log, async () => ((await fs.stat(userDir).then(() => true, () => false)) ? ensureDir(userDir) : ensureDir(userDir, 0o700))));
  } catch (err) {
    await spare.drop();
    await releaseLocks();
    throw err;
  }
  try {
    return await lockedRun(req, deps, { probed, preview, previewTables, spare });
  } finally {
    await spare.drop();
    await releaseLocks();
  }
}

async function lockedRun(req: BackupRequest, deps: BackupDeps, checked: Checked): Promise<BackupSummary> {
  const now = deps.now ?? (() => new Date());
  const started = now();
  const run = await prepareRun(req, deps, checked, now, started);
  let failed = false;
  const onAbort = () => run.snapshot?.destroy();
  deps.signal?.addEventListener('abort', onAbort);
  try {
    const quiesced = await quiesce(run);
    const { snap, plan } = await openSnapshotAndPlan(run, checked);
    const structures = await readStructures(snap, plan);
    const destinations = await openDestinations(run, plan);
    const dumped = await dumpStep(run, snap, plan, structures, quiesced, destinations);
    const meta = await writeHostMeta(run, plan, structures, dumped);
    await closeSnapshot(run, snap);
    await publishAndCommit(run, plan, dumped, meta, destinations);
    if (deps.verify && !(await verify(run, deps.verify))) failed = true;
  } catch (err) {
    failed = true;
    run.snapshot?.destroy();
    await run.host.discard();
    await run.ephemeral?.discard();
    await run.user?.abort();
    if (deps.signal?.aborted && !(err instanceof InterruptedError)) {
      throw new InterruptedError('backup interrupted by a signal; nothing was published', { cause: err });
    }
    throw err;
  } finally {
    deps.signal?.removeEventListener('abort', onAbort);
    // The run is over: consumers stopped by it run again (in target mode only if it failed: no db_upgrade follows).
    await deps.quiescer.resume({ backupFailed: failed });
    run.summary.services = deps.quiescer.report();
  }
  return closeSummary(run.summary, started, now());
}

/** Before anything is stopped: the previous manifest, the refusal of a wrong database, the repository, the host directory. */
async function prepareRun(req: BackupRequest, deps: BackupDeps, checked: Checked, now: () => Date, started: Date): Promise<BackupRun> {
  const { config } = req;
  const hostDir = join(config.csv2BackupDir, req.hostName);
  const previousManifest = await readManifest(join(hostDir, MANIFEST_FILE));
  // An empty or wrong database answers too: refused before anything changes.
  refuseMissingTables(req, checked.previewTables, previousManifest);
  const repo = await ensureRepository(config.csv2BackupDir, deps.log, checked.probed);
  // From what the probe read (no git process unless the diff driver is to be set); both are done before either's error
  // is reported. A refused repository may still get the driver's config: it is not backup data, and the run after the
  // fix sets it anyway.
  const [, repoConfig] = await settleAll([Promise.resolve().then(() => checkRepositoryReady(repo)), ensureDiffDriver(repo)]);
  const host = new TableDir(hostDir, { fileMode: 0o644 });
  await host.prepare();
  const summary = newBackupSummary(started, { hostName: req.hostName, hostDir, ephemeralDir: req.ephemeralDir });
  return { req, deps, log: deps.log, now, hostDir, host, repo, repoConfig, previousManifest, summary, tally: new BackupTally(summary), snapshot: null, user: null, ephemeral: null };
}

/** Stops the consumers; returns what the quiescer changed that the backup must not save (the pause flag's 'True'). */
async function quiesce(run: BackupRun): Promise<QuiesceReport> {
  throwIfAborted(run);
  phase(run, 'stopping consumers');
  await run.deps.quiescer.quiesce();
  const quiesced = run.deps.quiescer.report();
  throwIfAborted(run);
  return quiesced;
}

/** Opens the snapshot and plans again from the tables it sees (they may have changed since the check). */
async function openSnapshotAndPlan(run: BackupRun, checked: Checked): Promise<{ snap: Snapshot; plan: BackupPlan }> {
  const { log, summary } = run;
  const { preview } = checked;
  phase(run, 'opening snapshot');
  const snap = await openSnapshot(run.req.credentials, { spare: checked.spare.take() });
  run.snapshot = snap;
  const snapTables = await listTables(snap.db);
  refuseMissingTables(run.req, snapTables, run.previousManifest);
  const plan = planFor(run.req, snapTables);
  progress.planned(new Map(snapTables.map((t) => [t.name, t.estimatedRows ?? null])));
  for (const w of plan.warnings) log.warn(w.message, w.table !== undefined ? { table: w.table } : {});
  summary.warnings = plan.warnings.map((w) => w.message);
  for (const w of snap.warnings) {
    log.warn('snapshot', { warning: w });
    summary.warnings.push(w);
  }
  run.tally.ignored(plan.ignored.length);
  if (preview.tables.length !== plan.tables.length) log.info('tables changed between check and snapshot', { before: preview.tables.length, now: plan.tables.length });
  return { snap, plan };
}

/** The user-data snapshot (when a table's rows go there) and the -e directory, in the order tables are copied into them. */
async function openDestinations(run: BackupRun, plan: BackupPlan): Promise<Destination[]> {
  const { config, ephemeralDir } = run.req;
  const gzip = config.compress === 'gzip';
  const out: Destination[] = [];
  if (plan.tables.some((t) => t.rowsToUser) && config.userDataBackupDir) {
    run.user = await UserSnapshotWriter.begin(config.userDataBackupDir, { gzip, log: run.log, now: run.now });
    out.push({ kind: 'user', dir: run.user.tables, where: 'the user-data snapshot', wants: (t) => t.rowsToUser, fileName: (t) => userDataFileName(t.file, gzip), entries: [] });
  }
  if (ephemeralDir) {
    run.ephemeral = new TableDir(ephemeralDir, { fileMode: 0o600, dirMode: 0o700 });
    await run.ephemeral.prepare();
    out.push({ kind: 'ephemeral', dir: run.ephemeral, where: `-e ${ephemeralDir}`, wants: (t) => t.rowsToEphemeral, fileName: (t) => t.file, entries: [] });
  }
  return out;
}

async function dumpStep(run: BackupRun, snap: Snapshot, plan: BackupPlan, structures: Structures, quiesced: QuiesceReport, destinations: Destination[]): Promise<Dumped & { statementBytes: number }> {
  const statementBytes = await snapshotStatementBytes(snap);
  phase(run, 'dumping');
  const slowEncoder = nativeEncoderProblem();
  if (slowEncoder === null) run.log.debug('row encoder', { encoder: 'native' });
  else run.log.info('rows are encoded in JavaScript, about 3x slower: the native row encoder is not in use (npm ci builds it with g++)', { encoder: 'javascript', why: slowEncoder });
  const dumped = await dumpTables({
    snap,
    plan,
    structures,
    quiesced,
    host: run.host,
    hostDir: run.hostDir,
    destinations,
    statementBytes,
    tally: run.tally,
    warnings: run.summary.warnings,
    log: run.log,
    throwIfAborted: () => throwIfAborted(run),
    release: () => run.deps.quiescer.release(),
  });
  return { ...dumped, statementBytes };
}

/** The views file and the host manifest, staged beside the tables' files. */
async function writeHostMeta(run: BackupRun, plan: BackupPlan, structures: Structures, dumped: Dumped & { statementBytes: number }): Promise<{ viewsChanged: boolean; manifestChanged: boolean }> {
  const { views, triggers } = structures;
  const viewsFile = views.length ? viewsText(views) : null;
  run.summary.views = views.length;
  const viewsChanged = await run.host.writeMeta(VIEWS_FILE, viewsFile);
  const manifest = hostManifest({
    database: run.req.credentials.database,
    statementBytes: dumped.statementBytes,
    tables: dumped.hostEntries,
    views: viewsFile ? { text: viewsFile, names: views.map((v) => v.name) } : null,
    triggers: [...triggers.values()].flat().filter((x) => plan.tables.some((t) => t.name === x.table)).map((x) => ({ table: x.table, name: x.name })),
  });
  const manifestChanged = await run.host.writeMeta(MANIFEST_FILE, renderManifest(manifest));
  return { viewsChanged, manifestChanged };
}

async function closeSnapshot(run: BackupRun, snap: Snapshot): Promise<void> {
  await snap.close();
  run.snapshot = null;
  throwIfAborted(run);
}

/** verify_after_backup, before consumers are handed over; false when the backup did not verify. */
async function verify(run: BackupRun, verifyBackup: (summary: BackupSummary) => Promise<void>): Promise<boolean> {
  phase(run, 'verifying');
  await verifyBackup(run.summary);
  return !run.summary.verify || run.summary.verify.ok;
}
