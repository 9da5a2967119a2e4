/**
 * `schema_backup export --sqlite FILE [--snapshot latest|YYYYmmddHHMMSS] [--config FILE] [--host-name NAME]`:
 * one backup as one SQLite file (src/sqlite/export.ts); no database server is used.
 * Exit 8 when a backup file differs from its manifest (and no file is written).
 */
import { startProgressView } from './progress-view';
import { flags, targetOption } from './argv';
import { backupHostName } from '../config/host-name';
import { isSnapshotRef } from '../domain/snapshot-name';
import { EXIT, UsageError } from '../errors';
import type { LogLevel } from '../log';
import { withRunLock } from '../services/lock';
import { exportSummaryText, exportToSqlite } from '../sqlite/export';
import { readConfig } from '../app/backup';
import type { Command } from './command';

export interface ExportArgs {
  help: boolean;
  sqlite: string | null;
  snapshot: string;
  config?: string;
  hostName?: string;
  logLevel: LogLevel;
}

const USAGE = `usage: schema_backup export --sqlite FILE [--snapshot latest|YYYYmmddHHMMSS] [--config FILE] [--host-name NAME] [--log-level LEVEL]

Writes the backup of this host (csv2_backup_dir/HOST/ and one user-data snapshot, latest by default)
as one SQLite file: every table with its keys and rows, views and triggers as text. Every backup
file is checked against its manifest first; a file that differs is refused (exit 8) and nothing is
written. FILE is replaced if it exists, and is 0600 when it holds local rows.
`;

export function parseExportArgs(argv: readonly string[]): ExportArgs {
  const args: ExportArgs = { help: false, sqlite: null, snapshot: 'latest', logLevel: 'info' };
  for (const flag of flags(argv)) {
    switch (flag.name) {
      case '--sqlite': args.sqlite = flag.value(); break;
      case '--snapshot': {
        const s = flag.value();
        if (!isSnapshotRef(s)) throw new UsageError(`--snapshot: expected latest or YYYYmmddHHMMSS, got ${JSON.stringify(s)}`);
        args.snapshot = s;
        break;
      }
      case '-h':
      case '--help': args.help = true; break;
      // Export reads files only: no database, so no --db-config.
      default:
        if (!targetOption(flag, args, ['--db-config'])) flag.unknown();
    }
  }
  if (!args.help && args.sqlite === null) throw new UsageError('--sqlite FILE is required');
  return args;
}

export const EXPORT: Command<ExportArgs> = {
  name: 'schema_backup export',
  usage: USAGE,
  parse: parseExportArgs,
  async run(args, { io, env, log }) {
    const config = readConfig(args.config, env, log);
    const hostName = await backupHostName(args.hostName);
    // A backup publishing meanwhile would mix two backups' files.
    return withRunLock(config.stateDir, log, async () => {
      const view = startProgressView({ log, stream: io.stderr });
      const summary = await exportToSqlite({ config, hostName, snapshot: args.snapshot, file: args.sqlite as string }, { log }).finally(() => view.stop());
      io.stdout.write(exportSummaryText(summary));
      return EXIT.ok;
    });
  },
};
