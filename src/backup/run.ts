/**
 * One backup run, start to end: check, plan, quiesce consumers, open the
 * snapshot, write every file to temporary names, publish them, complete the
 * user snapshot, commit. A failure at any point leaves the last good backup as
 * it was, and consumers stopped by the run are started again on every path.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { BackupConfig, DbCredentials } from '../config/types';
import { connect } from '../db/connect';
import { describeTables, listTables, listTriggers, listViews, showCreateTable } from '../db/introspect';
import type { DbTableDetail, DbTrigger } from '../db/schema';
import { openSnapshot, type Snapshot } from '../db/snapshot';
import { progress } from '../dump/progress';
import { dumpTableRows, snapshotStatementBytes } from '../dump/table-rows';
import { viewsText } from '../dump/structure';
import { tableFileText } from '../dump/table-file';
import { rowColumns } from '../dump/literals';
import { describeRowChanges } from '../store/row-changes';
import { DatabaseError, InterruptedError, StoreError, errorMessage } from '../errors';
import {
  checkBackupDirAllowed,
  checkRepositoryReady,
  checkUserDataOutsideGit,
  commitHostDir,
  commitMessage,
  ensureDiffAttributes,
  ensureDiffDriver,
  ensureRepository,
  probeRepository,
  type HostChange,
} from '../git/repo';
import type { Logger } from '../log';
import { missingTablesRefusal } from '../plan/missing-tables';
import { planBackup, type BackupPlan, type TablePlan } from '../plan/plan';
import { acquireDirLock, type RunLock } from '../services/lock';
import type { Quiescer } from '../services/types';
import { ensureDir } from '../store/fsutil';
import type { RowSink } from '../store/file-sink';
import { parseManifest, renderManifest, type Manifest, type ManifestTable } from '../store/manifest';
import { MANIFEST_FILE, TMP_DIR, VIEWS_FILE } from '../store/names';
import { TableDir, type WrittenFile } from '../store/table-dir';
import { UserSnapshotWriter } from '../store/user-snapshot';
import { savedValueColumns } from './saved-values';
import { closeSummary, type BackupSummary, type SummaryClass } from '../domain/summary';

/** CSV2's settings table: db_upgrade reads its host file line by line. */
const CSV2_SETTINGS_TABLE = 'csv2_configuration';

export interface BackupRequest {
  config: BackupConfig;
  credentials: DbCredentials;
  hostName: string;
  /** -e DIR: structure and rows of the ephemeral tables also go there. */
  ephemeralDir: string | null;
}

export interface BackupDeps {
  log: Logger;
  quiescer: Quiescer;
  signal?: AbortSignal;
  onPhase?: (phase: string) => void;
  now?: () => Date;
  /**
   * Proves the committed backup (verify_after_backup); sets `summary.verify`.
   * Runs before the consumers are handed over: in target mode a backup that
   * does not verify starts them again, as any failed run does.
   */
  verify?: (summary: BackupSummary) => Promise<void>;
}

/** Connects, lists the tables and plans, touching nothing: `--dry-run`, and the check before services are stopped. */
export async function previewPlan(req: BackupRequest): Promise<BackupPlan> {
  const db = await connect(req.credentials);
  try {
    return planFor(req, await listTables(db));
  } finally {
    await db.close();
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

function emptyFigures(): BackupSummary['perClass'] {
  const zero = () => ({ tables: 0, rows: 0 });
  return { global: zero(), local: zero(), ephemeral: zero(), ignore: zero(), unclassified: zero() };
}

function manifestEntry(t: TablePlan, w: WrittenFile, structureSha256: string, rowsSaved: boolean): ManifestTable {
  return {
    table: t.name,
    file: t.file,
    class: t.class as SummaryClass,
    rowsSaved,
    rows: rowsSaved ? w.rows : null,
    structureSha256,
    sha256: w.sha256,
    contentSha256: rowsSaved ? w.contentSha256 : null,
    transactional: t.transactional,
  };
}

/** What changed against the previous host manifest: names the tables in the commit message. */
export function describeChange(previous: Manifest | null, current: ManifestTable[], removedFiles: string[], viewsChanged: boolean): HostChange {
  const old = new Map((previous?.tables ?? []).map((e) => [e.file, e]));
  const change: HostChange = { structure: [], rows: [], removed: [], views: viewsChanged };
  for (const e of current) {
    const before = old.get(e.file);
    if (!before || before.structureSha256 !== e.structureSha256) change.structure.push(e.table);
    else if (before.sha256 !== e.sha256) change.rows.push(e.table);
  }
  for (const file of removedFiles) change.removed.push(old.get(file)?.table ?? file);
  for (const list of [change.structure, change.rows, change.removed]) list.sort();
  return change;
}

export async function runBackup(req: BackupRequest, deps: BackupDeps): Promise<BackupSummary> {
  const { config } = req;
  const { log } = deps;
  deps.onPhase?.('checking');
  log.debug('phase', { phase: 'checking' });
  await checkBackupDirAllowed(config.csv2BackupDir, config.file);
  const probed = await probeRepository(config.csv2BackupDir);
  if (config.userDataBackupDir) await checkUserDataOutsideGit(config.csv2BackupDir, config.userDataBackupDir, probed);
  // The database must answer before any service is stopped.
  const previewTables = await (async () => {
    const db = await connect(req.credentials);
    try {
      return await listTables(db);
    } finally {
      await db.close();
    }
  })();
  const preview = planFor(req, previewTables);
  // Runs with another state_dir (another config file) may share these directories: one writer at a time.
  const locks: RunLock[] = [];
  const releaseLocks = async () => {
    for (const l of locks.splice(0).reverse()) await l.release();
  };
  try {
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
    await releaseLocks();
    throw err;
  }
  try {
    return await lockedRun(req, deps, { probed, preview, previewTables });
  } finally {
    await releaseLocks();
  }
}

async function lockedRun(
  req: BackupRequest,
  deps: BackupDeps,
  checked: { probed: Awaited<ReturnType<typeof probeRepository>>; preview: BackupPlan; previewTables: Awaited<ReturnType<typeof listTables>> },
): Promise<BackupSummary> {
  const { config } = req;
  const { log } = deps;
  const { preview } = checked;
  const now = deps.now ?? (() => new Date());
  const started = now();
  const phase = (p: string) => {
    deps.onPhase?.(p);
    log.debug('phase', { phase: p });
  };
  const throwIfAborted = () => {
    if (deps.signal?.aborted) throw new InterruptedError('backup interrupted by a signal; nothing was published');
  };
  const hostDir = join(config.csv2BackupDir, req.hostName);
  const previousManifest = await readManifest(join(hostDir, MANIFEST_FILE));
  // An empty or wrong database answers too: refused before anything changes.
  refuseMissingTables(req, checked.previewTables, previousManifest);
  const repo = await ensureRepository(config.csv2BackupDir, log, checked.probed);
  await checkRepositoryReady(repo);
  await ensureDiffDriver(repo);
  const host = new TableDir(hostDir, { fileMode: 0o644 });
  await host.prepare();

  let snapshot: Snapshot | null = null;
  let user: UserSnapshotWriter | null = null;
  let ephemeral: TableDir | null = null;
  let failed = false;
  const onAbort = () => snapshot?.destroy();
  deps.signal?.addEventListener('abort', onAbort);
  const summary: BackupSummary = {
    startedAt: started.toISOString(),
    finishedAt: '',
    durationMs: 0,
    hostName: req.hostName,
    hostDir,
    perClass: emptyFigures(),
    views: 0,
    triggers: 0,
    bytesWritten: 0,
    filesChanged: [],
    commit: null,
    userSnapshot: null,
    ephemeralDir: req.ephemeralDir,
    services: null,
    warnings: [],
    errors: [],
  };

  try {
    throwIfAborted();
    phase('stopping consumers');
    await deps.quiescer.quiesce();
    // What the quiescer changed and the backup must not save (the pause flag's 'True').
    const quiesced = deps.quiescer.report();
    throwIfAborted();

    phase('opening snapshot');
    snapshot = await openSnapshot(req.credentials);
    const snap = snapshot;
    const snapTables = await listTables(snap.db);
    refuseMissingTables(req, snapTables, previousManifest);
    const plan = planFor(req, snapTables);
    progress.planned(new Map(snapTables.map((t) => [t.name, t.estimatedRows ?? null])));
    for (const w of plan.warnings) log.warn(w.message, w.table !== undefined ? { table: w.table } : {});
    summary.warnings = plan.warnings.map((w) => w.message);
    for (const w of snap.warnings) {
      log.warn('snapshot', { warning: w });
      summary.warnings.push(w);
    }
    summary.perClass.ignore.tables = plan.ignored.length;
    if (preview.tables.length !== plan.tables.length) log.info('tables changed between check and snapshot', { before: preview.tables.length, now: plan.tables.length });

    const details = await describeTables(snap.db);
    const creates = new Map<string, string>();
    for (const t of plan.tables) creates.set(t.name, await showCreateTable(snap.db, t.name));
    const triggers = new Map<string, DbTrigger[]>();
    for (const trig of await listTriggers(snap.db)) triggers.set(trig.table, [...(triggers.get(trig.table) ?? []), trig]);
    const views = (await listViews(snap.db)).filter((v) => plan.views.includes(v.name));

    if (plan.tables.some((t) => t.rowsToUser) && config.userDataBackupDir) {
      user = await UserSnapshotWriter.begin(config.userDataBackupDir, { gzip: config.compress === 'gzip', log, now });
    }
    if (req.ephemeralDir) {
      ephemeral = new TableDir(req.ephemeralDir, { fileMode: 0o600, dirMode: 0o700 });
      await ephemeral.prepare();
    }

    const statementBytes = await snapshotStatementBytes(snap);
    const warnSplit = (t: TablePlan, where: string, w: WrittenFile) => {
      if ((w.statements ?? 0) <= 1) return;
      const message = `table ${t.name}: its rows in ${where} take ${w.statements} INSERT statements (over ${statementBytes} bytes); db_upgrade reads only the first, so an upgrade would reload only part of this table`;
      log.warn('rows split over several statements: db_upgrade reads only the first', { table: t.name, in: where, statements: w.statements });
      summary.warnings.push(message);
    };
    const rowDetails: Record<string, string> = {};
    const hostEntries: ManifestTable[] = [];
    const hostChanged: boolean[] = [];
    let userBytes = 0;
    const userEntries: ManifestTable[] = [];
    const ephemeralEntries: ManifestTable[] = [];
    const backupTable = async (t: TablePlan): Promise<void> => {
      throwIfAborted();
      const detail = details.get(t.name) as DbTableDetail;
      const create = creates.get(t.name) as string;
      const tableTriggers = triggers.get(t.name) ?? [];
      const columns = savedValueColumns(detail, quiesced);
      const rows = (sink: RowSink) => dumpTableRows(snap, detail, sink, columns);
      const figures = summary.perClass[t.class];
      figures.tables++;
      summary.triggers += tableTriggers.length;

      const hostText = tableFileText(t.name, create, tableTriggers, t.rowsToHost);
      const hostFile = await host.write({ table: t.name, file: t.file, head: hostText.head, tail: hostText.tail, rows: t.rowsToHost ? rows : undefined });
      hostEntries.push(manifestEntry(t, hostFile, hostText.structureSha256, t.rowsToHost));
      hostChanged.push(hostFile.changed);
      if (t.rowsToHost && hostFile.changed) {
        const columns = rowColumns(detail).map((c) => c.name);
        const changes = await host.rowChangesOf(hostFile, detail.primaryKey.map((k) => columns.indexOf(k)));
        if (changes) rowDetails[t.name] = describeRowChanges(changes);
      }
      // db_upgrade parses the host file of csv2_configuration itself (its settings).
      if (t.name === CSV2_SETTINGS_TABLE) warnSplit(t, join(hostDir, t.file), hostFile);
      summary.bytesWritten += hostFile.bytes;
      if (t.rowsToHost) figures.rows += hostFile.rows ?? 0;

      const withRows = tableFileText(t.name, create, tableTriggers, true);
      for (const [dir, entries, wanted] of [
        [user?.tables ?? null, userEntries, t.rowsToUser],
        [ephemeral, ephemeralEntries, t.rowsToEphemeral],
      ] as const) {
        if (!wanted || !dir) continue;
        // Compressed user-data files say so in their name (db_upgrade cannot read them directly).
        const file = dir === user?.tables && config.compress === 'gzip' ? `${t.file}.gz` : t.file;
        const written = await dir.write({ table: t.name, file, head: withRows.head, tail: withRows.tail, rows });
        entries.push({ ...manifestEntry(t, written, withRows.structureSha256, true), file });
        warnSplit(t, dir === ephemeral ? `-e ${req.ephemeralDir}` : 'the user-data snapshot', written);
        if (dir === user?.tables) userBytes += written.bytes;
        else summary.bytesWritten += written.bytes;
        figures.rows += written.rows ?? 0;
      }
    };

    phase('dumping');
    // Tables outside the snapshot's protection are read (under a read lock) while consumers are still stopped.
    const savesRows = (t: TablePlan) => t.rowsToHost || t.rowsToUser || t.rowsToEphemeral;
    for (const t of plan.tables.filter((x) => !x.transactional && savesRows(x))) await snap.withReadLock(t.name, () => backupTable(t));
    // Everything else comes from the snapshot, which no later write can change: consumers may run again
    // (in target mode they stay stopped until the run is over).
    await deps.quiescer.release();
    for (const t of plan.tables.filter((x) => x.transactional || !savesRows(x))) await backupTable(t);

    const viewsFile = views.length ? viewsText(views) : null;
    summary.views = views.length;
    const viewsChanged = await host.writeMeta(VIEWS_FILE, viewsFile);
    const database = req.credentials.database;
    const triggerList = [...triggers.values()].flat().filter((x) => plan.tables.some((t) => t.name === x.table)).map((x) => ({ table: x.table, name: x.name }));
    const hostManifest: Manifest = {
      format: 1,
      kind: 'host',
      database,
      compressed: false,
      statementBytes,
      tables: hostEntries,
      views: viewsFile ? { file: VIEWS_FILE, sha256: (await import('node:crypto')).createHash('sha256').update(viewsFile).digest('hex'), names: views.map((v) => v.name) } : null,
      triggers: triggerList,
    };
    const manifestChanged = await host.writeMeta(MANIFEST_FILE, renderManifest(hostManifest));
    await snap.close();
    snapshot = null;
    throwIfAborted();

    phase('publishing');
    // Each step that changes what the last good backup looks like leaves here how to take it back.
    const undo: (() => Promise<void>)[] = [];
    try {
      // db_upgrade's -e directory is not part of the versioned backup: published first, never taken back.
      if (ephemeral) await ephemeral.publish(null);
      if (user && !(await user.seal({ format: 1, kind: 'user', database, compressed: config.compress === 'gzip', statementBytes, tables: userEntries, views: null, triggers: [] }))) {
        log.info('user data unchanged since the latest snapshot; latest kept', { dir: config.userDataBackupDir });
        user = null;
      }
      const publication = await host.publishUndoable(new Set(plan.tables.map((t) => t.file)));
      undo.push(() => publication.undo());
      const removed = publication.removed;
      summary.filesChanged = [...hostEntries.filter((_, i) => hostChanged[i]).map((e) => e.file), ...removed];

      phase('committing');
      const attributes = await ensureDiffAttributes(config.csv2BackupDir);
      if (attributes) undo.push(() => attributes.undo());
      if (user) {
        const written = user;
        summary.userSnapshot = await written.promote();
        undo.push(() => written.unpromote());
        summary.bytesWritten += userBytes;
      }
      const change = describeChange(previousManifest, hostEntries.filter((_, i) => hostChanged[i]), removed, viewsChanged);
      change.rowDetails = rowDetails;
      // The last step that may fail: a post-commit hook must never see a commit that is then taken back.
      summary.commit = await commitHostDir(
        repo,
        hostDir,
        summary.filesChanged.length > 0 || viewsChanged || manifestChanged || attributes !== null,
        (leftover) => (leftover.length === 0 ? commitMessage(req.hostName, change) : `${req.hostName}: files left uncommitted by an earlier run\n\n${leftover.join('\n')}\n`),
        { name: 'schema_backup', email: `schema_backup@${req.hostName}` },
        { alsoCommit: [join(config.csv2BackupDir, '.gitattributes')], exclude: [join(hostDir, TMP_DIR)], log },
      );
      user = null;
      await publication.settle().catch((err: unknown) => log.warn('could not remove the previous host files kept during the commit', { dir: join(hostDir, TMP_DIR), err: errorMessage(err) }));
    } catch (err) {
      for (const step of undo.reverse()) {
        await step().catch((undoErr: unknown) => log.error('could not take back a step of the failed run', { err: errorMessage(undoErr) }));
      }
      throw err;
    }
    if (deps.verify) {
      phase('verifying');
      await deps.verify(summary);
      if (summary.verify && !summary.verify.ok) failed = true;
    }
  } catch (err) {
    failed = true;
    snapshot?.destroy();
    await host.discard();
    await ephemeral?.discard();
    await user?.abort();
    if (deps.signal?.aborted && !(err instanceof InterruptedError)) {
      throw new InterruptedError('backup interrupted by a signal; nothing was published', { cause: err });
    }
    throw err;
  } finally {
    deps.signal?.removeEventListener('abort', onAbort);
    // The run is over: consumers stopped by it run again (in target mode only if it failed: no db_upgrade follows).
    await deps.quiescer.resume({ backupFailed: failed });
    summary.services = deps.quiescer.report();
  }

  return closeSummary(summary, started, now());
}
