/** `schema_backup --daemon`: the daemon around backupOnce; the configuration and credentials are checked at start and on SIGHUP. */
import { runDaemon } from '../daemon/daemon';
import { createNotifier } from '../daemon/notify';
import { loadCredentials, systemClientEnvironment } from '../config/credentials';
import type { Logger } from '../log';
import { apiDaemonService } from './api';
import { backupOnce, readConfig, recover, type RunSettings } from './backup';

export function runDaemonCommand(
  settings: RunSettings,
  deps: { log: Logger; env: NodeJS.ProcessEnv; /** Watches one run's progress (log lines under systemd); stop() when it ends. */ watchProgress: () => { stop(): void } },
): Promise<number> {
  const { log, env } = deps;
  return runDaemon({
    // The credentials file is checked too (start and SIGHUP): otherwise a bad one only shows as a failure every tick.
    loadConfig: () => {
      const config = readConfig(settings.configPath, env, log);
      loadCredentials({ cliPath: settings.dbConfig, configured: config.dbConfig }, systemClientEnvironment(env));
      return config;
    },
    // An API request may ask for another mode (e.g. online) and hears when the run holds the lock.
    runOnce: (config, signal, options) => {
      const view = deps.watchProgress();
      return backupOnce(config, { ...settings, mode: options?.mode ?? settings.mode }, { log, signal, env, onPhase: options?.onPhase }).finally(() => view.stop());
    },
    recover: async (config) => {
      await recover(config, log, env, settings.dbConfig);
    },
    services: [apiDaemonService(settings, { log, env })],
    notifier: createNotifier(env, log),
    log,
    env,
  });
}
