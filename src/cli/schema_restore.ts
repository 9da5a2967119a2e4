#!/usr/bin/env node
/**
 * The `schema_restore` binary: which backup (configured directories, an
 * archive or an SQLite file) is restored; the wiring (lock, services) is
 * src/app/restore.ts, the same as a backup's.
 */
import { backupHostName } from '../config/host-name';
import { EXIT, RefusalError, UsageError, errorMessage, exitCodeOf } from '../errors';
import { extractArchive, type ExtractedArchive } from '../restore/archive-extract';
import type { RestoreRequest } from '../restore/run';
import { restoreOnce } from '../app/restore';
import { restoreSummaryText } from '../restore/summary';
import { readConfig, readDbCredentials } from '../app/backup';
import { codeCacheWorthKeeping } from './code-cache-hint';
import { processEntry, runCommand, type Command, type CommandContext } from './command';
import type { Io } from './io';
import { startProgressView } from './progress-view';
import { abortOnStopSignals } from './signals';
import { parseRestoreArgs, RESTORE_USAGE, type RestoreArgs } from './restore-args';

export const RESTORE: Command<RestoreArgs> = {
  name: 'schema_restore',
  usage: RESTORE_USAGE,
  parse: parseRestoreArgs,
  run: restore,
};

export function restoreMain(argv: string[], io: Io = process, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return runCommand(RESTORE, argv, io, env);
}

async function restore(args: RestoreArgs, { io, env, log }: CommandContext): Promise<number> {
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
    if (summary.errors.length) return EXIT.service;
    codeCacheWorthKeeping();
    return EXIT.ok;
  } catch (err) {
    // A refusal is an answer, not a failure: one plain line.
    if (!(err instanceof UsageError || err instanceof RefusalError)) throw err;
    io.stderr.write(`schema_restore: ${errorMessage(err)}\n`);
    return exitCodeOf(err);
  } finally {
    view.stop();
    await archive?.remove();
    stop.dispose();
  }
}

if (require.main === module) processEntry('schema_restore', (argv) => restoreMain(argv));
