/** The flag reader shared by every command line parser: `--flag VALUE`, `--flag=VALUE`, clear errors. */
import { EXIT, UsageError, errorMessage } from '../errors';
import type { ServiceMode } from '../domain/service-report';
import { LOG_LEVELS, type LogLevel } from '../log';

export interface Flag {
  /** The flag as typed, without an inline `=VALUE`. */
  readonly name: string;
  /** The flag's value (inline or the next argument); UsageError when missing. */
  value(): string;
  /** UsageError naming the argument: for the `default:` branch of a parser. */
  unknown(): never;
}

/**
 * The flags of argv, one at a time. A flag whose parser did not take a value
 * refuses an inline one: `--online=false` or `--dry-run=no` would otherwise
 * quietly mean the opposite of what was typed.
 */
export function* flags(argv: readonly string[]): Generator<Flag> {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    let taken = false;
    yield {
      name,
      value: () => {
        taken = true;
        const v = inline ?? argv[++i];
        if (v === undefined || v === '') throw new UsageError(`${name} needs a value`);
        return v;
      },
      unknown: () => {
        throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
      },
    };
    // Back here once the parser has handled the flag.
    if (inline !== undefined && !taken) throw new UsageError(`${name} takes no value (got ${JSON.stringify(arg)})`);
  }
}

/** The options shared by every command that reaches the database. */
export interface TargetOptions {
  config?: string;
  dbConfig?: string;
  hostName?: string;
  logLevel: LogLevel;
}

/** Takes one of the shared options into `args`; false for any other flag, and for those a command does not take (`without`). */
export function targetOption(flag: Flag, args: TargetOptions, without: readonly string[] = []): boolean {
  if (without.includes(flag.name)) return false;
  switch (flag.name) {
    case '--config': args.config = flag.value(); return true;
    case '--db-config': args.dbConfig = flag.value(); return true;
    case '--host-name': args.hostName = flag.value(); return true;
    case '--log-level': args.logLevel = logLevel(flag.value()); return true;
    default: return false;
  }
}

/**
 * A command's arguments, or the exit code once misuse (message and synopsis on
 * stderr) or --help (usage on stdout) has been answered.
 */
export function parseOrAnswer<T extends { help: boolean }>(
  parse: (argv: readonly string[]) => T,
  argv: readonly string[],
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
  name: string,
  usage: string,
): T | number {
  let args: T;
  try {
    args = parse(argv);
  } catch (err) {
    // The synopsis (the usage up to its first blank line), not the whole help.
    const synopsis = usage.split('\n\n')[0]!.replace(/\n*$/, '\n');
    io.stderr.write(`${name}: ${errorMessage(err)}\n${synopsis}`);
    return EXIT.usage;
  }
  if (!args.help) return args;
  io.stdout.write(usage);
  return EXIT.ok;
}

export function logLevel(value: string): LogLevel {
  if (!(LOG_LEVELS as readonly string[]).includes(value)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  return value as LogLevel;
}

/** A `--database` value: a name the server accepts (up to 64 characters, no NUL or `/`, no surrounding spaces). */
export function databaseName(flag: string, d: string): string {
  if (d.length > 64 || d.includes('\0') || d.includes('/') || d.trim() !== d) throw new UsageError(`${flag}: not a usable database name: ${JSON.stringify(d)}`);
  return d;
}

/** -m/--model, -t/--target, --online (backup and restore alike): taken into `modes`; false for any other flag. */
export function serviceModeOption(flag: Flag, modes: ServiceMode[]): boolean {
  switch (flag.name) {
    case '-m':
    case '--model': modes.push('model'); return true;
    case '-t':
    case '--target': modes.push('target'); return true;
    case '--online': modes.push('online'); return true;
    default: return false;
  }
}

/** The one service mode given (default: none given); UsageError when several. */
export function oneServiceMode(modes: readonly ServiceMode[]): ServiceMode {
  if (new Set(modes).size > 1) throw new UsageError(`choose one of --model, --target and --online (got ${[...new Set(modes)].join(', ')})`);
  return modes[0] ?? 'default';
}
