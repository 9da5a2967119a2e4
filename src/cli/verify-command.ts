/**
 * `schema_backup verify [--config FILE] [--db-config FILE] [--host-name NAME] [--database NAME] [--json]`:
 * restores the newest backup into a scratch database and compares it with
 * the manifest; exit 8 on any difference, 4 when it cannot run (privileges).
 */
import { databaseName, flags, targetOption, type TargetOptions } from './argv';
import { EXIT } from '../errors';
import { verifyLatest, verifyText } from '../verify/verify';
import { withRunLock } from '../services/lock';
import { checkStateDir } from '../store/state-dir';
import { readConfig, readTarget } from '../app/backup';
import type { Command } from './command';

export interface VerifyArgs extends TargetOptions {
  help: boolean;
  json: boolean;
  /** --database: the scratch database (default: verify_database:, else a fresh sbverify_*). */
  database: string | null;
}

const USAGE = 'usage: schema_backup verify [--config FILE] [--db-config FILE] [--host-name NAME] [--database NAME] [--json] [--log-level LEVEL]\n';

export function parseVerifyArgs(argv: readonly string[]): VerifyArgs {
  const args: VerifyArgs = { help: false, json: false, database: null, logLevel: 'info' };
  for (const flag of flags(argv)) {
    switch (flag.name) {
      case '--json': args.json = true; break;
      case '--database': args.database = databaseName('--database', flag.value()); break;
      case '-h':
      case '--help': args.help = true; break;
      default:
        if (!targetOption(flag, args)) flag.unknown();
    }
  }
  return args;
}

export const VERIFY: Command<VerifyArgs> = {
  name: 'schema_backup verify',
  usage: USAGE,
  parse: parseVerifyArgs,
  async run(args, { io, env, log }) {
    const config = readConfig(args.config, env, log);
    const { credentials, hostName } = await readTarget(config, { dbConfig: args.dbConfig, hostName: args.hostName }, { log, env });
    // A backup publishing meanwhile would mix two backups' files.
    await checkStateDir(config.stateDir, config.file);
    return withRunLock(config.stateDir, log, async () => {
      const result = await verifyLatest(config, credentials, hostName, log, { database: args.database });
      io.stdout.write(args.json ? JSON.stringify(result, null, 2) + '\n' : verifyText(result));
      return result.ok ? EXIT.ok : EXIT.verify;
    });
  },
};
