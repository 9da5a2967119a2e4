/** Default values of schema_backup.conf, in one place so docs and code agree. */

/** Daily at 03:00 (node-cron syntax). */
export const DEFAULT_SCHEDULE = '0 3 * * *';
/** Seconds to wait after stopping consumers; the original CSV2 utility used 1. */
export const DEFAULT_PAUSE_INTERVAL = 1;
/** Stop the consumers, as schema_backup always did; `pause-flag` is the original CSV2 utility's way. */
export const DEFAULT_QUIESCE = 'stop';
export const DEFAULT_STATE_DIR = '/var/lib/schema_backup';
export const STATUS_FILE_NAME = 'status.json';
export const DEFAULT_SYSTEMCTL_TIMEOUT = 90;
/** Relative to the install root. */
export const DEFAULT_CSV2_BACKUP_SUBDIR = 'schema/schema_backup';
/** The configuration file is read whole, so its size is capped. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** MariaDB's limit on identifier length. */
export const MAX_TABLE_NAME_LENGTH = 64;
