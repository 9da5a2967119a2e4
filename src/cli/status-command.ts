/**
 * `schema_backup status [--json] [--max-age HOURS] [--config FILE]`: reads the
 * status file the daemon writes and says whether backups are healthy, with an
 * exit code for monitoring (see STATUS_EXIT). Without --max-age, a success is
 * overdue after one schedule interval plus two hours (26 h for a daily schedule).
 */
import { flags } from './argv';
import { runCommand, type Command, type CommandContext } from './command';
import type { Io } from './io';
import { loadConfig, resolveConfigPath } from '../config/load';
import { defaultsRoot } from '../config/paths';
import { ConfigError, EXIT, UsageError, errorMessage, formatConfigMessage } from '../errors';
import { defaultMaxAgeHours } from '../daemon/schedule';
import { readStatus, statusReport } from '../bookkeeping/status';

export interface StatusArgs {
  help: boolean;
  json: boolean;
  maxAgeHours: number | null;
  configPath?: string;
}

const USAGE = 'usage: schema_backup status [--json] [--max-age HOURS] [--config FILE]\n';

/** Throws UsageError on misuse. */
export function parseStatusArgs(argv: readonly string[]): StatusArgs {
  const args: StatusArgs = { help: false, json: false, maxAgeHours: null };
  for (const flag of flags(argv)) {
    const value = flag.value;
    switch (flag.name) {
      case '-h':
      case '--help':
        args.help = true;
        break;
      case '--json':
        args.json = true;
        break;
      case '--max-age': {
        const text = value();
        const hours = Number(text);
        if (!/^\d+(\.\d+)?$/.test(text) || !(hours > 0)) throw new UsageError(`--max-age: expected a positive number of hours, got ${JSON.stringify(text)}`);
        args.maxAgeHours = hours;
        break;
      }
      case '--config':
        args.configPath = value();
        break;
      default:
        flag.unknown();
    }
  }
  return args;
}

export const STATUS: Command<StatusArgs> = { name: 'schema_backup status', usage: USAGE, parse: parseStatusArgs, run: status };

export function statusCommand(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return runCommand(STATUS, argv, io, env);
}

async function status(args: StatusArgs, { io, env }: CommandContext): Promise<number> {
  let statusFile: string;
  let schedule: string;
  try {
    const root = defaultsRoot(env);
    const path = resolveConfigPath({ cliPath: args.configPath, env, installRoot: root });
    const { config } = loadConfig(path, { installRoot: root });
    statusFile = config.statusFile;
    schedule = config.schedule;
  } catch (err) {
    const lines = err instanceof ConfigError ? err.problems.map(formatConfigMessage) : [errorMessage(err)];
    io.stderr.write(lines.map((l) => `schema_backup status: ${l}\n`).join(''));
    return EXIT.config;
  }
  let record;
  try {
    record = await readStatus(statusFile);
  } catch (err) {
    io.stderr.write(`schema_backup status: cannot read ${statusFile}: ${errorMessage(err)}\n`);
    return EXIT.internal;
  }
  const report = statusReport(record, { now: new Date(), maxAgeHours: args.maxAgeHours ?? defaultMaxAgeHours(schedule), file: statusFile });
  io.stdout.write(args.json ? `${JSON.stringify(report.json, null, 2)}\n` : report.text);
  return report.exitCode;
}
