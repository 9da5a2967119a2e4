#!/usr/bin/env node
/**
 * The `schema_restore` binary and its composition root: configuration,
 * credentials, the run lock and the services, wired as for a backup
 * (same modes, same guarantees: consumers stopped by the run start again).
 */
import { backupHostName } from '../config/host-name';
import { EXIT, UsageError, errorMessage, exitCodeOf } from '../errors';
import { createLogger } from '../log';
import { extractArchive, type ExtractedArchive } from '../restore/archive-extract';
import type { RestoreRequest } from '../restore/run';
import { restoreOnce } from '../app/restore';
import { restoreSummaryText } from '../restore/summary';
import { readConfig, readDbCredentials } from '../app/backup';
import { logFailure, type Io } from './io';
import { startProgressView } from './progress-view';
import { abortOnStopSignals } from './signals';
import { parseRestoreArgs, RESTORE_USAGE, type RestoreArgs } from './restore-args';

export async function restoreMain(argv: string[], io: Io = process, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let args: RestoreArgs;
  try {
    args = parseRestoreArgs(argv);
  } catch (err) {
    io.stderr.write(`schema_restore: ${errorMessage(err)}\n`);
    return err instanceof UsageError ? EXIT.usage : EXIT.internal;
  }
  if (args.help) {
    io.stdout.write(RESTORE_USAGE);
    return EXIT.ok;
  }
  const log = createLogger({ level: args.logLevel, stream: io.stderr });
  const stop = abortOnStopSignals(log, 'the target is left as it was, consumers are started again');
  let archive: ExtractedArchive | null = null;
  const view = startProgressView({ log, stream: io.stderr });
  try {
    let config = readConfig(args.config, env, log);
    const credentials = readDbCredentials(args.dbConfig, config, env, log);
    const request = (hostName: string, snapshot: string): Omit<RestoreRequest, 'config'> => ({
      credentials,
      hostName,
      snapshot,
      database: args.database,
      tables: args.tables,
      only: args.only,
      mode: args.mode,
      dryRun: args.dryRun,
      definer: args.definer,
    });
    const deps = { log, env, signal: stop.signal };
    let summary;
    if (args.fromSqlite) {
      // Loaded only when used: better-sqlite3 is a native module a normal restore does not need.
      summary = await (await import('../sqlite/materialize')).withMaterializedBackup(args.fromSqlite, (backup) => {
        log.info('restoring the backup held by an SQLite file', { file: args.fromSqlite, host: backup.hostName, snapshot: backup.snapshot });
        const from = { ...config, csv2BackupDir: backup.csv2BackupDir, userDataBackupDir: backup.userDataBackupDir };
        return restoreOnce(from, request(backup.hostName, backup.snapshot ?? 'latest'), args.serviceMode, deps);
      });
    } else if (args.archive !== null) {
      // The archive stands in for both backup directories; the lock, state and services stay the configured ones.
      archive = await extractArchive(args.archive);
      log.info('archive unpacked', { archive: args.archive, host: archive.info.hostName, snapshot: archive.info.snapshot ?? 'none' });
      config = { ...config, csv2BackupDir: archive.csv2BackupDir, userDataBackupDir: archive.userDataBackupDir };
      summary = await restoreOnce(config, request(archive.info.hostName, archive.info.snapshot ?? 'latest'), args.serviceMode, deps);
    } else {
      summary = await restoreOnce(config, request(await backupHostName(args.hostName), args.snapshot), args.serviceMode, deps);
    }
    io.stdout.write(restoreSummaryText(summary));
    return summary.errors.length ? EXIT.service : EXIT.ok;
  } catch (err) {
    // A refusal is an answer, not a failure: one plain line.
    if (err instanceof UsageError) io.stderr.write(`schema_restore: ${errorMessage(err)}\n`);
    else logFailure(log, err);
    return exitCodeOf(err);
  } finally {
    view.stop();
    await archive?.remove();
    stop.dispose();
  }
}

if (require.main === module) {
  restoreMain(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      setTimeout(() => process.exit(code), 3000).unref();
    },
    (err: unknown) => {
      process.stderr.write(`schema_restore: internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
