/**
 * The composition root of a backup: configuration, credentials, lock,
 * services and the run itself, wired once. The one-shot command and every
 * daemon tick go through backupOnce, so they share modes, guarantees and lock.
 */
import { runBackup, previewPlan } from '../backup/run';
import { checkHostName, fullyQualifiedHostName } from '../backup/host-name';
import type { BackupSummary } from '../backup/summary';
import { loadCredentials } from '../config/credentials';
import { loadConfig, resolveConfigPath } from '../config/load';
import { installRoot } from '../config/paths';
import type { BackupConfig, DbCredentials } from '../config/types';
import { connect } from '../db/connect';
import { errorMessage, formatConfigMessage } from '../errors';
import type { Logger } from '../log';
import type { BackupPlan } from '../plan/plan';
import { acquireRunLock } from '../services/lock';
import { createQuiescer } from '../services/quiesce';
import { recoverInterruptedRun } from '../services/recovery';
import { createSystemctl } from '../services/systemctl';
import type { Quiescer, ServiceMode } from '../services/types';
import { waitForDatabaseFn } from '../services/wait-for-database';

export interface RunSettings {
  configPath?: string;
  dbConfig?: string;
  hostName?: string;
  ephemeralDir?: string;
  mode: ServiceMode;
}

/** Reads schema_backup.conf (throws ConfigError with every problem) and logs its warnings. */
export function readConfig(cliPath: string | undefined, env: NodeJS.ProcessEnv, log: Logger): BackupConfig {
  const root = installRoot();
  const { config, warnings } = loadConfig(resolveConfigPath({ cliPath, env, installRoot: root }), { installRoot: root });
  for (const w of warnings) log.warn('configuration warning', { problem: formatConfigMessage(w) });
  return config;
}

async function target(config: BackupConfig, settings: RunSettings): Promise<{ credentials: DbCredentials; hostName: string }> {
  const credentials = loadCredentials({ cliPath: settings.dbConfig, configured: config.dbConfig });
  const hostName = checkHostName(settings.hostName ?? (await fullyQualifiedHostName()));
  return { credentials, hostName };
}

export async function planOnly(config: BackupConfig, settings: RunSettings): Promise<{ plan: BackupPlan; hostName: string }> {
  const { credentials, hostName } = await target(config, settings);
  return { plan: await previewPlan({ config, credentials, hostName, ephemeralDir: settings.ephemeralDir ?? null }), hostName };
}

/** Starts consumers left stopped by an interrupted run (one-shot start and daemon start). */
export async function recover(config: BackupConfig, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  return recoverInterruptedRun(config.stateDir, createSystemctl({ timeoutSec: config.systemctlTimeout, env }), log);
}

export async function backupOnce(
  config: BackupConfig,
  settings: RunSettings,
  deps: { log: Logger; signal?: AbortSignal; onPhase?: (phase: string) => void; env?: NodeJS.ProcessEnv },
): Promise<BackupSummary> {
  const { log } = deps;
  const env = deps.env ?? process.env;
  const { credentials, hostName } = await target(config, settings);
  return withServices(config, credentials, settings.mode, { log, env }, async (quiescer) => {
    const summary = await runBackup(
      { config, credentials, hostName, ephemeralDir: settings.ephemeralDir ?? null },
      { log, quiescer, signal: deps.signal, onPhase: deps.onPhase },
    );
    if (config.verifyAfterBackup) {
      deps.onPhase?.('verifying');
      // Still under the run lock: nothing can change the backup while it is being proven.
      const { verifyLatest, verifyText } = await import('../restore/verify');
      try {
        const result = await verifyLatest(config, credentials, hostName, log);
        summary.verify = { ok: result.ok, message: result.ok ? null : (result.error ?? verifyText(result)), at: new Date().toISOString() };
        if (result.ok) log.info('backup verified', { tables: result.tables.length, durationMs: result.durationMs });
      } catch (err) {
        // A verification that cannot run (privileges, scratch database in use) has not proven the backup either.
        summary.verify = { ok: false, message: `verification could not run: ${errorMessage(err)}`, at: new Date().toISOString() };
      }
      if (!summary.verify.ok) {
        summary.errors.push(`verification failed: ${summary.verify.message}`);
        log.error('backup did not verify', { message: summary.verify.message });
      }
    }
    return summary;
  });
}

/**
 * Runs `body` under the run lock with a quiescer for `mode`, after starting
 * consumers left stopped by an interrupted run: the wiring a backup and a
 * restore share, so both give the same guarantees.
 */
export async function withServices<T>(
  config: BackupConfig,
  credentials: DbCredentials,
  mode: ServiceMode,
  deps: { log: Logger; env: NodeJS.ProcessEnv },
  body: (quiescer: Quiescer) => Promise<T>,
): Promise<T> {
  const { log, env } = deps;
  const lock = await acquireRunLock(config.stateDir, log);
  try {
    const systemctl = createSystemctl({ timeoutSec: config.systemctlTimeout, env });
    await recoverInterruptedRun(config.stateDir, systemctl, log);
    const quiescer = createQuiescer({
      mode,
      consumers: config.consumers,
      providers: config.providers,
      pauseIntervalSec: config.pauseInterval,
      systemctl,
      stateDir: config.stateDir,
      log,
      waitForDatabase: waitForDatabaseFn(async () => {
        const db = await connect(credentials);
        await db.close();
      }),
    });
    return await body(quiescer);
  } finally {
    await lock.release();
  }
}
