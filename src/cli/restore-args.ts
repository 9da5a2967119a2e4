/** Command-line parsing for schema_restore (pure: argv in, options or UsageError out). */
import { databaseName, flags, oneServiceMode, serviceModeOption, targetOption, type TargetOptions } from './argv';
import { isSnapshotRef } from '../domain/snapshot-name';
import { UsageError, exitCodeHelp } from '../errors';
import type { OnlyPart, RestoreMode } from '../restore/plan';
import type { RestoreRequest } from '../restore/run';
import type { ServiceMode } from '../domain/service-report';

/** The command line: the shared options, and the request's own fields as RestoreRequest has them. */
export interface RestoreArgs extends TargetOptions, Pick<RestoreRequest, 'snapshot' | 'database' | 'tables' | 'only' | 'mode' | 'dryRun' | 'definer'> {
  help: boolean;
  serviceMode: ServiceMode;
  /** --from-sqlite FILE: restore the backup held by a `schema_backup export --sqlite` file. */
  fromSqlite: string | null;
  /** --archive FILE: a tar.gz of the API to restore instead of the configured backup directories. */
  archive: string | null;
}

export const RESTORE_USAGE = `Usage:
  schema_restore [--config FILE] [--db-config FILE] [--host-name NAME] [--snapshot latest|YYYYmmddHHMMSS | --archive FILE]
                 [--database NAME] [--tables T1,T2] [--only global|local|structure] [--merge | --replace]
                 [--definer current] [-m | -t | --online] [--dry-run]
  schema_restore --from-sqlite FILE [same options but --snapshot and --host-name]

Restores csv2_backup_dir/HOST/ (structures, global rows, views) and one user-data snapshot
(local rows) into the configured database, or --database NAME (created if missing). Everything is
loaded into staging tables inside that database first and moved into place only once all of it
loaded: a restore that fails leaves the target as it was. It needs privileges on that database
only (missing ones are named before anything is touched, --dry-run included). Files that differ
from the backup's manifest are refused.

Options:
  --config FILE        schema_backup.conf (default: $SCHEMA_BACKUP_CONF, else <install root>/etc/schema_backup.conf)
  --db-config FILE     database credentials (default: db_config in schema_backup.conf)
  --host-name NAME     host directory under csv2_backup_dir (default: this host's FQDN)
  --snapshot NAME      user-data snapshot: latest (default) or YYYYmmddHHMMSS
  --from-sqlite FILE   restore the backup held by FILE (written by schema_backup export --sqlite)
                       instead of csv2_backup_dir; it is rebuilt in a private directory under
                       TMPDIR (as large as the backup) and restored like any backup
  --archive FILE       restore a tar.gz of the daemon's API (GET /v1/backups/SNAPSHOT/archive): its host
                       files and snapshot, unpacked into a private temporary directory (removed after)
  --database NAME      restore into NAME instead of the configured database
  --tables T1,T2       restore only these tables (views are then not restored)
  --only PART          global (global tables with rows), local (local tables with rows),
                       or structure (every table, no rows)
  --merge              tables that exist: rows of the backup overwrite rows with the same key, other
                       rows stay; a table whose structure differs is reported and left alone
  --replace            tables that exist are DROPPED and recreated from the backup (destructive)
                       (default: refuse, naming them, if the target holds any table to be restored)
  --definer current    recreate triggers and views with the restoring user as DEFINER
  -m, --model          stop consumers, restart the providers, restore, start the consumers again
  -t, --target         like --model, but leave the consumers stopped
      --online         touch no service
      --dry-run        print what would be restored and exit; nothing is changed
      --log-level L    error, warn, info (default) or debug
  -h, --help           show this help

${exitCodeHelp({ usage: 'usage (or refused: target not empty)', store: 'storage', service: 'service', verify: 'backup files differ from their manifest' })}`;

const ONLY: readonly OnlyPart[] = ['global', 'local', 'structure'];

export function parseRestoreArgs(argv: readonly string[]): RestoreArgs {
  const args: RestoreArgs = {
    help: false,
    snapshot: 'latest',
    database: null,
    tables: null,
    only: null,
    mode: 'empty',
    dryRun: false,
    definer: 'keep',
    serviceMode: 'default',
    logLevel: 'info',
    fromSqlite: null,
    archive: null,
  };
  let snapshotGiven = false;
  const modes: ServiceMode[] = [];
  const restoreModes: RestoreMode[] = [];
  for (const flag of flags(argv)) {
    const value = flag.value;
    switch (flag.name) {
      case '--snapshot': {
        const s = value();
        if (!isSnapshotRef(s)) throw new UsageError(`--snapshot: expected latest or YYYYmmddHHMMSS, got ${JSON.stringify(s)}`);
        args.snapshot = s;
        snapshotGiven = true;
        break;
      }
      case '--from-sqlite': {
        args.fromSqlite = value();
        break;
      }
      case '--archive': {
        args.archive = value();
        break;
      }
      case '--database': args.database = databaseName('--database', value()); break;
      case '--tables': {
        const list = value().split(',').map((t) => t.trim()).filter((t) => t !== '');
        if (list.length === 0) throw new UsageError('--tables needs at least one table name');
        args.tables = [...(args.tables ?? []), ...list];
        break;
      }
      case '--only': {
        const o = value() as OnlyPart;
        if (!ONLY.includes(o)) throw new UsageError(`--only must be one of ${ONLY.join(', ')}`);
        args.only = o;
        break;
      }
      case '--merge': restoreModes.push('merge'); break;
      case '--replace': restoreModes.push('replace'); break;
      case '--definer': {
        const d = value();
        if (d !== 'current') throw new UsageError('--definer: the only value is current');
        args.definer = 'current';
        break;
      }
      case '--dry-run': args.dryRun = true; break;
      case '-h':
      case '--help': args.help = true; break;
      default:
        if (!targetOption(flag, args) && !serviceModeOption(flag, modes)) flag.unknown();
    }
  }
  const mode = oneServiceMode(modes);
  if (new Set(restoreModes).size > 1) throw new UsageError('choose one of --merge and --replace');
  // The file holds one backup of one host: its own snapshot and host name.
  if (args.fromSqlite !== null && snapshotGiven) throw new UsageError('--snapshot cannot be used with --from-sqlite (the file holds one snapshot)');
  if (args.fromSqlite !== null && args.hostName !== undefined) throw new UsageError('--host-name cannot be used with --from-sqlite (the file names its host)');
  if (args.archive !== null && (snapshotGiven || args.hostName !== undefined)) throw new UsageError('--archive names its own snapshot and host: leave out --snapshot and --host-name');
  args.serviceMode = mode;
  args.mode = restoreModes[0] ?? 'empty';
  return args;
}
