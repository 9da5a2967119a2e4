/** What the steps of one backup run share: the request, the services, and what is open (cleaned up after a failure). */
import type { BackupConfig, DbCredentials } from '../config/types';
import type { Snapshot } from '../db/snapshot';
import type { BackupSummary } from '../domain/summary';
import { InterruptedError } from '../errors';
import type { Repository, RepositoryConfig } from '../git/repo';
import type { Logger } from '../log';
import type { Quiescer } from '../services/types';
import type { Manifest } from '../store/manifest';
import type { TableDir } from '../store/table-dir';
import type { UserSnapshotWriter } from '../store/user-snapshot';
import type { BackupTally } from './summary-builder';

export interface BackupRequest {
  config: BackupConfig;
  credentials: DbCredentials;
  hostName: string;
  /** -e DIR: structure and rows of the ephemeral tables also go there. */
  ephemeralDir: string | null;
}

export interface BackupDeps {
  log: Logger;
  quiescer: Quiescer;
  signal?: AbortSignal;
  onPhase?: (phase: string) => void;
  now?: () => Date;
  /**
   * Proves the committed backup (verify_after_backup); sets `summary.verify`.
   * Runs before the consumers are handed over: in target mode a backup that
   * does not verify starts them again, as any failed run does.
   */
  verify?: (summary: BackupSummary) => Promise<void>;
}

/** What every step of one run shares; the cleanup after a failure reads what is open from here. */
export interface BackupRun {
  req: BackupRequest;
  deps: BackupDeps;
  log: Logger;
  now: () => Date;
  hostDir: string;
  host: TableDir;
  repo: Repository;
  repoConfig: RepositoryConfig;
  previousManifest: Manifest | null;
  summary: BackupSummary;
  tally: BackupTally;
  snapshot: Snapshot | null;
  user: UserSnapshotWriter | null;
  ephemeral: TableDir | null;
}

export const phase = (run: BackupRun, p: string): void => {
  run.deps.onPhase?.(p);
  run.log.debug('phase', { phase: p });
};

export const throwIfAborted = (run: BackupRun): void => {
  if (run.deps.signal?.aborted) throw new InterruptedError('backup interrupted by a signal; nothing was published');
};
