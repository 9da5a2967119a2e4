/**
 * The end of a backup run: what it wrote replaces the last good backup, then
 * one commit records it. Until the commit every step can be taken back.
 */
import { join } from 'node:path';
import { errorMessage } from '../errors';
import { commitHostDir, commitMessage, ensureDiffAttributes, hostDirUnchanged, type HostChange } from '../git/repo';
import type { BackupPlan } from '../plan/plan';
import type { Manifest, ManifestTable } from '../store/manifest';
import { userManifest } from '../store/manifest-build';
import { TMP_DIR } from '../store/names';
import { phase, type BackupRun } from './context';
import type { Destination, Dumped } from './dump-tables';

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

/**
 * Publishes the -e directory, the host files and the user-data snapshot, then commits. Each step that changes
 * what the last good backup looks like leaves how to take it back; a failure runs them backwards.
 */
export async function publishAndCommit(
  run: BackupRun,
  plan: BackupPlan,
  dumped: Dumped & { statementBytes: number },
  meta: { viewsChanged: boolean; manifestChanged: boolean },
  destinations: Destination[],
): Promise<void> {
  const { req, log, summary, hostDir } = run;
  const { config } = req;
  phase(run, 'publishing');
  const undo: (() => Promise<void>)[] = [];
  const commitPaths = { alsoCommit: [join(config.csv2BackupDir, '.gitattributes')], exclude: [join(hostDir, TMP_DIR)] };
  let hostUnchanged: Promise<boolean> | undefined;
  try {
    // db_upgrade's -e directory is not part of the versioned backup: published first, never taken back.
    if (run.ephemeral) await run.ephemeral.publish(null);
    const publication = await run.host.publishUndoable(new Set(plan.tables.map((t) => t.file)));
    undo.push(() => publication.undo());
    const removed = publication.removed;
    summary.filesChanged = [...dumped.changed.map((e) => e.file), ...removed];
    const attributes = await ensureDiffAttributes(config.csv2BackupDir);
    if (attributes) undo.push(() => attributes.undo());
    // From here until the commit the host directory holds this run's files uncommitted beside the last commit (as
    // between the publication and the commit before): a run killed meanwhile leaves them to the next run's commit,
    // and a failure, a seal's included, takes them back.
    const changed = summary.filesChanged.length > 0 || meta.viewsChanged || meta.manifestChanged || attributes !== null;
    // Where this run changed nothing there, git's read-only look at the host files (two processes, ~40 ms) runs
    // while the user-data snapshot, outside the repository, is synced and renamed into place.
    if (!changed) hostUnchanged = hostDirUnchanged(run.repo, hostDir, commitPaths);
    const userEntries = destinations.find((d) => d.kind === 'user')?.entries ?? [];
    const manifest = userManifest({ database: req.credentials.database, compressed: config.compress === 'gzip', statementBytes: dumped.statementBytes, tables: userEntries });
    if (run.user && !(await run.user.seal(manifest))) {
      log.info('user data unchanged since the latest snapshot; latest kept', { dir: config.userDataBackupDir });
      run.user = null;
    }

    phase(run, 'committing');
    if (run.user) {
      const written = run.user;
      summary.userSnapshot = await written.promote();
      undo.push(() => written.unpromote());
      run.tally.userPromoted();
    }
    const change = describeChange(run.previousManifest, dumped.changed, removed, meta.viewsChanged);
    change.rowDetails = dumped.rowDetails;
    // The last step that may fail: a post-commit hook must never see a commit that is then taken back.
    summary.commit = await commitHostDir(
      run.repo,
      hostDir,
      changed,
      (leftover) => (leftover.length === 0 ? commitMessage(req.hostName, change) : `${req.hostName}: files left uncommitted by an earlier run\n\n${leftover.join('\n')}\n`),
      run.repoConfig.identity ? null : { name: 'schema_backup', email: `schema_backup@${req.hostName}` },
      { ...commitPaths, log, warnings: summary.warnings, unchanged: hostUnchanged },
    );
    run.user = null;
    await publication.settle().catch((err: unknown) => log.warn('could not remove the previous host files kept during the commit', { dir: join(hostDir, TMP_DIR), err: errorMessage(err) }));
  } catch (err) {
    // No git process of this run still looks at the files while they are taken back.
    await hostUnchanged;
    for (const step of undo.reverse()) {
      await step().catch((undoErr: unknown) => log.error('could not take back a step of the failed run', { err: errorMessage(undoErr) }));
    }
    throw err;
  }
}
