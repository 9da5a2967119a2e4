/** The flag reader shared by every command line parser: `--flag VALUE`, `--flag=VALUE`, clear errors. */
import { UsageError } from '../errors';
import { LOG_LEVELS, type LogLevel } from '../log';

export interface Flag {
  /** The flag as typed, without an inline `=VALUE`. */
  readonly name: string;
  /** The flag's value (inline or the next argument); UsageError when missing. */
  value(): string;
  /** UsageError when the flag was given an inline value it does not take. */
  noValue(): void;
  /** UsageError naming the argument: for the `default:` branch of a parser. */
  unknown(): never;
}

export function* flags(argv: readonly string[]): Generator<Flag> {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    yield {
      name,
      value: () => {
        const v = inline ?? argv[++i];
        if (v === undefined || v === '') throw new UsageError(`${name} needs a value`);
        return v;
      },
      noValue: () => {
        if (inline !== undefined) throw new UsageError(`${name} takes no value`);
      },
      unknown: () => {
        throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
      },
    };
  }
}

export function logLevel(value: string): LogLevel {
  if (!(LOG_LEVELS as readonly string[]).includes(value)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  return value as LogLevel;
}
