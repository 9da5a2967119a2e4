/**
 * The error hierarchy. Each class maps to one documented exit code, so the
 * entry point can turn any failure into a code without knowing its origin.
 */

export const EXIT = {
  ok: 0,
  internal: 1,
  usage: 2,
  config: 3,
  database: 4,
  store: 5,
  service: 6,
  busy: 7,
  verify: 8,
  /** Stopped by SIGINT/SIGTERM (128 + SIGINT, as shells report it). */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** What each exit code means, as the help texts list them. */
export const EXIT_MEANING: Record<keyof typeof EXIT, string> = {
  ok: 'success',
  internal: 'internal error',
  usage: 'usage',
  config: 'configuration',
  database: 'database',
  store: 'storage or git',
  service: 'service (systemctl)',
  busy: 'another run is active',
  verify: 'verification failed',
  interrupted: 'interrupted by a signal',
};

/** "Exit codes: 0 success, ..." from EXIT, wrapped at `width`; a command words some codes its own way. */
export function exitCodeHelp(own: Partial<Record<keyof typeof EXIT, string>> = {}, width = 100): string {
  const items = (Object.keys(EXIT) as (keyof typeof EXIT)[]).map((k) => `${EXIT[k]} ${own[k] ?? EXIT_MEANING[k]}`);
  const lines: string[] = [];
  let line = 'Exit codes:';
  items.forEach((item, i) => {
    const word = ` ${item}${i === items.length - 1 ? '.' : ','}`;
    if (line.length + word.length > width) {
      lines.push(line);
      line = word.slice(1);
    } else line += word;
  });
  return `${[...lines, line].join('\n')}\n`;
}

export class SchemaBackupError extends Error {
  readonly exitCode: ExitCode = EXIT.internal;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** One problem found in a configuration or credentials file. */
export interface ConfigMessage {
  /** The file (or option, e.g. `--host-name`) the problem is in; '' until the caller that knows it names it (ConfigError.inFile). */
  file: string;
  /** 1-based line, when the problem can be tied to one. */
  line?: number;
  /** Dotted key path, e.g. `global[3]` or `user_data_retention.keep`. */
  key?: string;
  message: string;
}

export function formatConfigMessage(m: ConfigMessage): string {
  const where = m.line !== undefined ? `${m.file}:${m.line}` : m.file;
  const text = m.key ? `${m.key}: ${m.message}` : m.message;
  return where ? `${where}: ${text}` : text;
}

/** Command line misuse: nothing was attempted. */
export class UsageError extends SchemaBackupError {
  override readonly exitCode = EXIT.usage;
}

/** The request is well formed but refused at run time (e.g. a restore target that is not empty): nothing was changed. */
export class RefusalError extends SchemaBackupError {
  override readonly exitCode = EXIT.usage;
}

/** Configuration or credentials are invalid: nothing was attempted. */
export class ConfigError extends SchemaBackupError {
  override readonly exitCode = EXIT.config;
  readonly problems: ConfigMessage[];
  /** A string is a problem whose file the thrower does not know: the caller that does names it with inFile(). */
  constructor(problems: ConfigMessage[] | string, options?: { cause?: unknown }) {
    const list = typeof problems === 'string' ? [{ file: '', message: problems }] : problems;
    super(list.map(formatConfigMessage).join('\n'), options);
    this.problems = list;
  }

  /** The same problems, those without a file now in `file` (e.g. the schema_backup.conf whose values they judge). */
  inFile(file: string): ConfigError {
    if (this.problems.every((p) => p.file !== '')) return this;
    return new ConfigError(this.problems.map((p) => (p.file === '' ? { ...p, file } : p)), { cause: this.cause ?? this });
  }
}

/** The database could not be reached, or a statement failed. */
export class DatabaseError extends SchemaBackupError {
  override readonly exitCode = EXIT.database;
}

/** Writing backup files, the user-data snapshot or git failed. */
export class StoreError extends SchemaBackupError {
  override readonly exitCode = EXIT.store;
}

/** systemctl failed to stop, start or restart a service. */
export class ServiceError extends SchemaBackupError {
  override readonly exitCode = EXIT.service;
}

/** Another run holds the lock. */
export class BusyError extends SchemaBackupError {
  override readonly exitCode = EXIT.busy;
}

/** A backup did not verify, or a restore refused its input. */
export class VerifyError extends SchemaBackupError {
  override readonly exitCode = EXIT.verify;
}

/** The run was stopped by a signal; it cleaned up after itself. */
export class InterruptedError extends SchemaBackupError {
  override readonly exitCode = EXIT.interrupted;
}

/** A process spawned through src/proc failed; carries what it said. */
export class CommandError extends SchemaBackupError {
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly code: number | null,
    readonly stdout: string,
    readonly stderr: string,
    reason?: string,
  ) {
    super(`${command} ${args.join(' ')} ${reason ?? `exited with ${code}`}${stderr.trim() ? `: ${stderr.trim()}` : ''}`);
  }
}

export function exitCodeOf(err: unknown): ExitCode {
  return err instanceof SchemaBackupError ? err.exitCode : EXIT.internal;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The database user lacks a privilege the operation needs; nothing was attempted. */
export class PrivilegeError extends DatabaseError {}
