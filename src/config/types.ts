/** The resolved, fully typed configuration that every other module consumes. */
import type { ListenAddress } from './api-listen';

import type { TableClass } from '../domain/table-class';

/** A table name as listed in schema_backup.conf, with where it was listed. */
export interface ListedTable {
  name: string;
  /** 1-based line in schema_backup.conf (0 when not known). */
  line: number;
}

/** How consumers are kept from writing in the default mode (`quiesce:`). */
export const QUIESCE_METHODS = ['stop', 'pause-flag'] as const;
export type QuiesceMethod = (typeof QUIESCE_METHODS)[number];

export interface RetentionPolicy {
  /** Keep at least the newest N snapshots (null: no count limit). */
  keep: number | null;
  /** Keep snapshots younger than D days (null: no age limit). */
  maxAgeDays: number | null;
}

export interface BackupConfig {
  /** Absolute path of the schema_backup.conf that was read. */
  file: string;
  /** Absolute; `<install root>/schema/schema_backup` when omitted, null or `default`. */
  csv2BackupDir: string;
  /** Absolute, or null when local data is not backed up. */
  userDataBackupDir: string | null;
  providers: string[];
  consumers: string[];
  classes: Record<TableClass, ListedTable[]>;
  /**
   * stop: stop and start the consumers (systemctl). pause-flag: set CSV2's
   * ProcessMonitor pause flag in csv2_configuration instead (default mode only).
   */
  quiesce: QuiesceMethod;
  /** Seconds to wait after stopping (or pausing) consumers. */
  pauseInterval: number;
  /** Absolute path of the credentials file, or null for the default lookup. */
  dbConfig: string | null;
  /** Cron expression for the daemon (node-cron syntax, 5 or 6 fields). */
  schedule: string;
  /** Directory for the lock, the recovery record and status.json. */
  stateDir: string;
  /** Absolute path of status.json. */
  statusFile: string;
  /** Prometheus textfile-collector output, or null. */
  metricsFile: string | null;
  retention: RetentionPolicy | null;
  compress: 'none' | 'gzip';
  /** Timeout for each systemctl call, seconds. */
  systemctlTimeout: number;
  verifyAfterBackup: boolean;
  /** Scratch database of `verify` (kept, emptied after use), or null for a fresh `sbverify_*` (needs CREATE on it). */
  verifyDatabase: string | null;
  /** The daemon's HTTP API (`api:`), or null: no listener. */
  api: ApiConfig | null;
}

export interface ApiConfig {
  listen: ListenAddress;
  /** A non-loopback TCP address was allowed explicitly (TLS is a reverse proxy's job). */
  allowRemote: boolean;
  /** POST /v1/restore is served. */
  allowRestore: boolean;
}

/** Database credentials; never logged, never put on a command line. */
export interface DbCredentials {
  host: string;
  port: number;
  socketPath: string | null;
  user: string;
  password: string;
  database: string;
  /** The file they came from (for messages). */
  source: string;
  /** How the transport was chosen for `localhost` (for messages), set by resolveTransport. */
  transport?: string;
}
