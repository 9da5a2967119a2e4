/** The daemon's HTTP API wired to the commands it stands for: host name, credentials, and restore as schema_restore runs it. */
import { backupHostName } from '../config/host-name';
import { apiService } from '../api/service';
import type { ApiRestore } from '../api/server';
import type { BackupConfig } from '../config/types';
import type { DaemonService } from '../daemon/daemon';
import type { Logger } from '../log';
import type { RestoreSummary } from '../restore/summary';
import { readDbCredentials, type RunSettings } from './backup';
import { restoreOnce } from './restore';

export function apiDaemonService(settings: RunSettings, deps: { log: Logger; env: NodeJS.ProcessEnv }): DaemonService {
  const { log, env } = deps;
  let hostName: string | null = null;
  const resolveHost = async () => (hostName ??= await backupHostName(settings.hostName));
  return apiService(() => ({
    log,
    defaultMode: settings.mode,
    hostName: resolveHost,
    async restore(config: BackupConfig, r: ApiRestore, signal: AbortSignal, onLocked: () => void): Promise<RestoreSummary> {
      const credentials = readDbCredentials(settings.dbConfig, config, env, log);
      const request = { credentials, hostName: await resolveHost(), snapshot: r.snapshot, database: r.database, tables: r.tables, only: r.only, mode: r.mode, dryRun: r.dryRun, definer: r.definer };
      // schema_restore's path, with a word once the lock is ours.
      return restoreOnce(config, request, r.serviceMode, { log, env, signal, onLocked });
    },
  }));
}
