/**
 * The layout of a backup archive (the API writes it, `schema_restore --archive`
 * reads it): the backup directories' own, so the restore reads it unchanged.
 *   schema_backup-archive.json                   what the archive holds (ArchiveInfo)
 *   csv2_backup_dir/HOST/...                     the host files, views and manifest
 *   user_data_backup_dir/YYYYmmddHHMMSS/...      the user-data snapshot and its manifest
 */
export const ARCHIVE_INFO = 'schema_backup-archive.json';
export const ARCHIVE_HOST_ROOT = 'csv2_backup_dir';
export const ARCHIVE_USER_ROOT = 'user_data_backup_dir';

export interface ArchiveInfo {
  format: 1;
  hostName: string;
  /** The user-data snapshot, or null when there is none (no user_data_backup_dir, or no snapshot yet). */
  snapshot: string | null;
  createdAt: string;
}
