/** `schema_backup --daemon`: the daemon around backupOnce; the configuration and credentials are checked at start and on SIGHUP. */
import { runDaemon } from '../daemon/daemon';
import { createNotifier } from '../daemon/notify';
import { loadCredentials, systemClientEnvironment } from '../config/credentials';
import type { Logger } from '../log';
import { backupOnce, readConfig, recover, type RunSettings } from './backup-command';

export function runDaemonCommand(settings: RunSettings, deps: { log: Logger; env: NodeJS.ProcessEnv }): Promise<number> {
  const { log, env } = deps;
  return runDaemon({
    // The credentials file is checked too (start and SIGHUP): otherwise a bad one only shows as a failure every tick.
    loadConfig: () => {
      const config = readConfig(settings.configPath, env, log);
      loadCredentials({ cliPath: settings.dbConfig, configured: config.dbConfig }, systemClientEnvironment(env));
      return config;
    },
    runOnce: (config, signal) => backupOnce(config, settings, { log, signal, env }),
    recover: async (config) => {
      await recover(config, log, env, settings.dbConfig);
    },
    notifier: createNotifier(env, log),
    log,
    env,
  });
}
