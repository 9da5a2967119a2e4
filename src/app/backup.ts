/**
 * The composition root of a backup: configuration, credentials, lock,
 * services and the run itself, wired once. The one-shot command and every
 * daemon tick go through backupOnce, so they share modes, guarantees and lock.
 */
import { runBackup, previewPlan } from '../backup/run';
import { backupHostName } from '../config/host-name';
import type { BackupSummary } from '../domain/summary';
import { previousRecord, recordRun } from '../bookkeeping/record';
import { readCredentials, systemClientEnvironment } from '../config/credentials';
import { loadConfig, resolveConfigPath } from '../config/load';
import { defaultsRoot } from '../config/paths';
import type { BackupConfig, DbCredentials, QuiesceMethod } from '../config/types';
import { connect, where } from '../db/connect';
import { ConfigError, errorMessage, formatConfigMessage } from '../errors';
import type { Logger } from '../log';
import type { BackupPlan } from '../plan/plan';
import { acquireRunLock } from '../services/lock';
import { checkFreeSpace } from '../store/free-space';
import { checkStateDir } from '../store/state-dir';
import { createPauseFlagQuiescer } from '../services/pause-flag';
import { createPauseFlagDb } from '../services/pause-flag-db';
import { pauseRecordExists, recoverPauseFlag, type FlagTarget } from '../services/pause-flag-record';
import { createQuiescer } from '../services/quiesce';
import { recoverInterruptedRun } from '../services/recovery';
import { createSystemctl } from '../services/systemctl';
import type { Quiescer } from '../services/types';
import type { ServiceMode } from '../domain/service-report';
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
  const root = defaultsRoot(env);
  const { config, warnings } = loadConfig(resolveConfigPath({ cliPath, env, installRoot: root }), { installRoot: root });
  for (const w of warnings) log.warn('configuration warning', { problem: formatConfigMessage(w) });
  return config;
}

/** Reads the database credentials (throws ConfigError), logs their warnings and how the server will be reached. */
export function readDbCredentials(cliPath: string | undefined, config: BackupConfig, env: NodeJS.ProcessEnv, log: Logger): DbCredentials {
  const { credentials, warnings } = readCredentials({ cliPath, configured: config.dbConfig }, systemClientEnvironment(env));
  for (const w of warnings) log.warn('credentials warning', { problem: formatConfigMessage(w) });
  log.debug('database server', { at: where(credentials), file: credentials.source });
  return credentials;
}

/** The database credentials and this host's backup name: what every command that reaches the database starts from. */
export async function readTarget(
  config: BackupConfig,
  settings: Pick<RunSettings, 'dbConfig' | 'hostName'>,
  deps: { log: Logger; env: NodeJS.ProcessEnv },
): Promise<{ credentials: DbCredentials; hostName: string }> {
  const credentials = readDbCredentials(settings.dbConfig, config, deps.env, deps.log);
  const hostName = await backupHostName(settings.hostName);
  return { credentials, hostName };
}

export async function planOnly(
  config: BackupConfig,
  settings: RunSettings,
  deps: { log: Logger; env: NodeJS.ProcessEnv },
): Promise<{ plan: BackupPlan; hostName: string }> {
  const { credentials, hostName } = await readTarget(config, settings, deps);
  return { plan: await previewPlan({ config, credentials, hostName, ephemeralDir: settings.ephemeralDir ?? null }), hostName };
}

/**
 * Starts consumers left stopped by an interrupted run, and puts back a pause
 * flag it left set (daemon start; every run does the same under its lock).
 * Credentials are read only when a pause flag record is there.
 */
export async function recover(config: BackupConfig, log: Logger, env: NodeJS.ProcessEnv = process.env, dbConfig?: string): Promise<string[]> {
  const started = await recoverInterruptedRun(config.stateDir, createSystemctl({ timeoutSec: config.systemctlTimeout, env }), log);
  if (await pauseRecordExists(config.stateDir)) {
    await recoverFlag(config, readDbCredentials(dbConfig, config, env, log), log);
  }
  return started;
}

function flagTarget(credentials: DbCredentials): FlagTarget {
  return { server: where(credentials), database: credentials.database };
}

function recoverFlag(config: BackupConfig, credentials: DbCredentials, log: Logger): Promise<unknown> {
  return recoverPauseFlag(config.stateDir, flagTarget(credentials), () => createPauseFlagDb({ credentials, configFile: config.file }), log);
}

export async function backupOnce(
  config: BackupConfig,
  settings: RunSettings,
  deps: { log: Logger; signal?: AbortSignal; onPhase?: (phase: string) => void; env?: NodeJS.ProcessEnv },
): Promise<BackupSummary> {
  const { log } = deps;
  const env = deps.env ?? process.env;
  const { credentials, hostName } = await readTarget(config, settings, { log, env });
  // Before any service is touched: a run that cannot fit is refused, not failed half-way.
  await checkFreeSpace({ config, hostName, ephemeralDir: settings.ephemeralDir ?? null });
  try {
    return await backupUnderServices(config, settings, credentials, hostName, { ...deps, env });
  } catch (err) {
    // Checks deep in the run judge values of schema_backup.conf (e.g. user_data_backup_dir) without knowing its name.
    throw err instanceof ConfigError ? err.inFile(config.file) : err;
  }
}

function backupUnderServices(
  config: BackupConfig,
  settings: RunSettings,
  credentials: DbCredentials,
  hostName: string,
  deps: { log: Logger; signal?: AbortSignal; onPhase?: (phase: string) => void; env: NodeJS.ProcessEnv },
): Promise<BackupSummary> {
  const { log, env } = deps;
  return withServices(config, credentials, settings.mode, { log, env, quiesce: config.quiesce }, async (quiescer) => {
    // Verified inside the run, before the consumers are handed over: a failed verification is a failed run.
    const verify = config.verifyAfterBackup
      ? async (summary: BackupSummary): Promise<void> => {
          // Still under the run lock: nothing can change the backup while it is being proven.
          const { verifyLatest, verifyText } = await import('../verify/verify');
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
      : undefined;
    const summary = await runBackup(
      { config, credentials, hostName, ephemeralDir: settings.ephemeralDir ?? null },
      { log, quiescer, signal: deps.signal, onPhase: deps.onPhase, verify },
    );
    return summary;
  });
}

/**
 * Whether this run pauses the consumers with the flag: only in the default
 * mode. -m/-t stop the consumers and restart the providers as the original
 * did in those modes (stopped consumers need no flag, and a flag left for
 * db_upgrade to find would pause the upgraded site); --online touches neither.
 */
export function usesPauseFlag(mode: ServiceMode, quiesce: QuiesceMethod): boolean {
  return quiesce === 'pause-flag' && mode === 'default';
}

/**
 * Runs `body` under the run lock with a quiescer for `mode`, after starting
 * consumers left stopped by an interrupted run and putting back a pause flag
 * it left set: the wiring a backup and a restore share, so both give the same
 * guarantees. `quiesce` (default `stop`) is the backup's choice; a restore
 * always stops the consumers (it replaces csv2_configuration itself).
 */
export async function withServices<T>(
  config: BackupConfig,
  credentials: DbCredentials,
  mode: ServiceMode,
  deps: { log: Logger; env: NodeJS.ProcessEnv; quiesce?: QuiesceMethod },
  body: (quiescer: Quiescer) => Promise<T>,
): Promise<T> {
  const { log, env } = deps;
  const quiesce = deps.quiesce ?? 'stop';
  await checkStateDir(config.stateDir, config.file);
  const lock = await acquireRunLock(config.stateDir, log);
  try {
    const systemctl = createSystemctl({ timeoutSec: config.systemctlTimeout, env });
    await recoverInterruptedRun(config.stateDir, systemctl, log);
    await recoverFlag(config, credentials, log);
    if (usesPauseFlag(mode, quiesce)) {
      const flag = createPauseFlagDb({ credentials, configFile: config.file });
      // Refused before anything is touched when the site has no such row (ConfigError, exit 3).
      await flag.read();
      const quiescer = createPauseFlagQuiescer({ flag, target: flagTarget(credentials), pauseIntervalSec: config.pauseInterval, stateDir: config.stateDir, log });
      return await body(quiescer);
    }
    if (quiesce === 'pause-flag' && mode !== 'online') log.info('quiesce: pause-flag applies to the default mode; this mode stops the consumers', { mode });
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

/** Status and metrics after a one-shot run, as the daemon records its ticks (`schema_backup status` reads them). */
export async function recordOneShot(config: BackupConfig, outcome: BackupSummary | Error, startedAt: Date, log: Logger, aborted = false): Promise<void> {
  const previous = await previousRecord(config.statusFile, log);
  await recordRun(config, outcome, { startedAt, finishedAt: new Date(), aborted, previous, nextRun: null, log });
}
