/** Command-line parsing for schema_backup (pure: argv in, options or UsageError out). */
import { flags, oneServiceMode, serviceModeOption, targetOption, type TargetOptions } from './argv';
import { UsageError, exitCodeHelp } from '../errors';
import type { ServiceMode } from '../domain/service-report';

export interface BackupArgs extends TargetOptions {
  command: 'backup' | 'daemon' | 'help';
  ephemeralDir?: string;
  mode: ServiceMode;
  dryRun: boolean;
  logJson?: string;
}

export const USAGE = `Usage:
  schema_backup [options]             back up once, then exit
  schema_backup --daemon [options]    back up on the configured cron schedule (systemd service)
  schema_backup status [--json] [--max-age HOURS] [--config FILE]
  schema_backup verify [--config FILE] [--db-config FILE] [--host-name NAME] [--database NAME]
  schema_backup export --sqlite FILE [--snapshot latest|YYYYmmddHHMMSS] [--config FILE] [--host-name NAME]
  schema_backup token add NAME --scope read|backup|export|restore | token list [--json] | token remove NAME  [--config FILE]

Options:
  --config FILE                schema_backup.conf (default: $SCHEMA_BACKUP_CONF, else <root>/etc/schema_backup.conf,
                               <root> being $SCHEMA_BACKUP_ROOT, else the install directory)
  --db-config FILE             database credentials: CSV2 YAML (database: db_host, db_user, ...) or a MySQL
                               option file ([client] user=, password=, ...). Default: db_config in schema_backup.conf,
                               else /etc/cloudscheduler/cloudscheduler.yaml
  --host-name NAME             name of the host directory under csv2_backup_dir (default: this host's FQDN)
  -e, --ephemeral-directory DIR  also write structure and rows of the ephemeral tables to DIR
  -m, --model                  stop consumers, restart the providers, back up, start the consumers again
  -t, --target                 like --model, but leave the consumers stopped (db_upgrade's pre-hook)
      --online                 touch no service; rely on the consistent snapshot alone
      --dry-run                print the plan (each table, its class, what is saved where, warnings) and exit
      --daemon                 run as a daemon on the configured schedule
      --log-level LEVEL        error, warn, info (default) or debug
      --log-json FILE          also write log lines as JSON to FILE
  -h, --help                   show this help

Default mode: stop the running consumers, wait pause_interval seconds, back up, start again the
consumers that were stopped (consumers that were already stopped stay stopped). With
\`quiesce: pause-flag\` in schema_backup.conf it sets CSV2's pause flag instead and puts it back after.

${exitCodeHelp()}`;


export function parseBackupArgs(argv: readonly string[]): BackupArgs {
  const args: BackupArgs = { command: 'backup', mode: 'default', dryRun: false, logLevel: 'info' };
  const modes: ServiceMode[] = [];
  for (const flag of flags(argv)) {
    const value = flag.value;
    switch (flag.name) {
      case '-e':
      case '--ephemeral-directory': args.ephemeralDir = value(); break;
      case '--dry-run': args.dryRun = true; break;
      case '--daemon': args.command = 'daemon'; break;
      case '--log-json': args.logJson = value(); break;
      case '-h':
      case '--help': args.command = 'help'; break;
      default:
        if (!targetOption(flag, args) && !serviceModeOption(flag, modes)) flag.unknown();
    }
  }
  const mode = oneServiceMode(modes);
  // The daemon has no plan to print: started anyway, it would back up on schedule what the operator meant to preview.
  if (args.command === 'daemon' && args.dryRun) throw new UsageError('--dry-run cannot be combined with --daemon: run it without --daemon to print the plan');
  args.mode = mode;
  return args;
}
