/** schema_backup's entry point: dispatches the subcommands and turns every outcome into an exit code. */
import { BusyError, EXIT, errorMessage, exitCodeOf, UsageError } from '../errors';
import { PassThrough } from 'node:stream';
import { createLogger, type Logger } from '../log';
import { renderPlan } from '../plan/render';
import { previousRecord, recordRun } from '../bookkeeping/record';
import type { BackupSummary } from '../domain/summary';
import type { BackupConfig } from '../config/types';
import { parseBackupArgs, USAGE, type BackupArgs } from './args';
import { backupOnce, planOnly, readConfig, type RunSettings } from '../app/backup';
import { startProgressView } from './progress-view';
import { abortOnStopSignals } from './signals';
import { summaryText } from './summary-text';
import { logFailure, type Io } from './io';

/** Status and metrics after a one-shot run, as the daemon records its ticks (`schema_backup status` reads them). */
async function recordOneShot(config: BackupConfig, outcome: BackupSummary | Error, startedAt: Date, log: Logger, aborted = false): Promise<void> {
  const previous = await previousRecord(config.statusFile, log);
  await recordRun(config, outcome, { startedAt, finishedAt: new Date(), aborted, previous, nextRun: null, log });
}

/** A backup that did not verify is a failed run (8); other errors of a written backup are service errors (6). */
export function exitCodeOfRun(summary: BackupSummary): number {
  if (summary.verify && !summary.verify.ok) return EXIT.verify;
  return summary.errors.length ? EXIT.service : EXIT.ok;
}

function settingsOf(args: BackupArgs): RunSettings {
  return { configPath: args.config, dbConfig: args.dbConfig, hostName: args.hostName, ephemeralDir: args.ephemeralDir, mode: args.mode };
}

export async function main(argv: string[], io: Io = process, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  // Subcommands and the daemon load their modules only when used: every backup pays for what it imports.
  if (argv[0] === 'status') return (await import('./status-command')).statusCommand(argv.slice(1), io, env);
  if (argv[0] === 'verify') return (await import('./verify-command')).verifyCommand(argv.slice(1), io, env);
  if (argv[0] === 'export') return (await import('./export-command')).exportCommand(argv.slice(1), io, env);
  if (argv[0] === 'token') return (await import('./token-command')).tokenCommand(argv.slice(1), io, env);
  let args: BackupArgs;
  try {
    args = parseBackupArgs(argv);
  } catch (err) {
    io.stderr.write(`schema_backup: ${errorMessage(err)}\n`);
    return err instanceof UsageError ? EXIT.usage : EXIT.internal;
  }
  if (args.command === 'help') {
    io.stdout.write(USAGE);
    return EXIT.ok;
  }
  const log = createLogger({ level: args.logLevel, jsonFile: args.logJson, stream: io.stderr });
  const settings = settingsOf(args);
  if (args.command === 'daemon') {
    // Under systemd the progress is log lines (journald), never a terminal line.
    const watchProgress = () => startProgressView({ log, stream: new PassThrough() });
    return (await import('../app/daemon')).runDaemonCommand(settings, { log, env, watchProgress });
  }

  const stop = abortOnStopSignals(log, 'consumers are started again, nothing half-written is kept');
  let config: BackupConfig | null = null;
  const startedAt = new Date();
  try {
    config = readConfig(args.config, env, log);
    if (args.dryRun) {
      const { plan, hostName } = await planOnly(config, settings, { log, env });
      io.stdout.write(
        renderPlan(plan, {
          host: `${config.csv2BackupDir}/${hostName}`,
          user: config.userDataBackupDir,
          ephemeral: args.ephemeralDir ?? null,
        }),
      );
      return EXIT.ok;
    }
    const view = startProgressView({ log, stream: io.stderr });
    const summary = await backupOnce(config, settings, { log, signal: stop.signal, env }).finally(() => view.stop());
    await recordOneShot(config, summary, startedAt, log);
    io.stdout.write(summaryText(summary));
    return exitCodeOfRun(summary);
  } catch (err) {
    logFailure(log, err);
    // A run refused by the lock is not this host's last result: the active run records its own.
    if (config && !args.dryRun && !(err instanceof BusyError)) {
      await recordOneShot(config, err instanceof Error ? err : new Error(String(err)), startedAt, log, stop.signal.aborted);
    }
    return exitCodeOf(err);
  } finally {
    stop.dispose();
  }
}
