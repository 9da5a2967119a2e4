/** What schema_backup.conf says of a table: its rows are shared (global), this site's (local), transient (ephemeral) or not kept (ignore). */
export const TABLE_CLASSES = ['global', 'local', 'ephemeral', 'ignore'] as const;
export type TableClass = (typeof TABLE_CLASSES)[number];
