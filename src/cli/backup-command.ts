/** `schema_backup [options]` and `schema_backup --daemon`: one backup (or its plan), or the daemon. */
import { PassThrough } from 'node:stream';
import { backupOnce, planOnly, readConfig, recordOneShot, type RunSettings } from '../app/backup';
import type { BackupConfig } from '../config/types';
import type { BackupSummary } from '../domain/summary';
import { BusyError, EXIT, exitCodeOf } from '../errors';
import { renderPlan } from '../plan/render';
import { parseBackupArgs, USAGE, type BackupArgs } from './args';
import type { Command } from './command';
import { codeCacheWorthKeeping } from './code-cache-hint';
import { logFailure } from './io';
import { startProgressView } from './progress-view';
import { abortOnStopSignals } from './signals';
import { summaryText } from './summary-text';

/** A backup that did not verify is a failed run (8); other errors of a written backup are service errors (6). */
export function exitCodeOfRun(summary: BackupSummary): number {
  if (summary.verify && !summary.verify.ok) return EXIT.verify;
  return summary.errors.length ? EXIT.service : EXIT.ok;
}

function settingsOf(args: BackupArgs): RunSettings {
  return { configPath: args.config, dbConfig: args.dbConfig, hostName: args.hostName, ephemeralDir: args.ephemeralDir, mode: args.mode };
}

export const backupCommand: Command<BackupArgs & { help: boolean }> = {
  name: 'schema_backup',
  usage: USAGE,
  parse: (argv) => {
    const args = parseBackupArgs(argv);
    return { ...args, help: args.command === 'help' };
  },
  async run(args, { io, env, log }) {
    const settings = settingsOf(args);
    if (args.command === 'daemon') {
      // Under systemd the progress is log lines (journald), never a terminal line.
      const watchProgress = () => startProgressView({ log, stream: new PassThrough() });
      // Loaded only when used: every backup pays for what it imports.
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
      const code = exitCodeOfRun(summary);
      if (code === EXIT.ok) codeCacheWorthKeeping();
      return code;
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
  },
};
