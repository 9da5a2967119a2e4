/** The composition root of a restore: the run lock and the services, wired as for a backup (same modes, same guarantees). */
import type { BackupConfig } from '../config/types';
import type { Logger } from '../log';
import { runRestore, type RestoreRequest } from '../restore/run';
import type { RestoreSummary } from '../restore/summary';
import type { Quiescer } from '../services/types';
import type { ServiceMode } from '../domain/service-report';
import { withServices } from './backup';

const idle: Quiescer = {
  quiesce: async () => undefined,
  release: async () => undefined,
  resume: async () => undefined,
  report: () => ({ mode: 'online', stopped: [], alreadyStopped: [], restarted: [], restartFailures: [], providersRestarted: [], downtimeMs: null }),
};

/** One restore under the run lock, with consumers handled as `mode` says; `onLocked` hears once the lock is held. */
export async function restoreOnce(
  config: BackupConfig,
  request: Omit<RestoreRequest, 'config'>,
  mode: ServiceMode,
  deps: { log: Logger; env?: NodeJS.ProcessEnv; signal?: AbortSignal; onLocked?: () => void },
): Promise<RestoreSummary> {
  const { log, signal } = deps;
  if (request.dryRun) {
    deps.onLocked?.();
    return runRestore({ ...request, config }, { log, quiescer: idle });
  }
  return withServices(config, request.credentials, mode, { log, env: deps.env ?? process.env }, (quiescer) => {
    deps.onLocked?.();
    return runRestore({ ...request, config }, { log, quiescer, signal });
  });
}
