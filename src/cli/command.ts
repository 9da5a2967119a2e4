/**
 * The one wiring of every command: its flags are parsed by its own parser
 * (on the shared flag reader, src/cli/argv.ts), misuse and --help are answered
 * the same way, a logger is made from --log-level/--log-json, any failure is
 * logged once and turned into its exit code; and both binaries start the same
 * way (processEntry).
 */
import { EXIT, errorMessage, exitCodeOf } from '../errors';
import { createLogger, type Logger, type LogLevel } from '../log';
import { parseOrAnswer } from './argv';
import { logFailure, type Io } from './io';

export interface CommandContext {
  io: Io;
  env: NodeJS.ProcessEnv;
  log: Logger;
}

export interface Command<A extends { help: boolean }> {
  /** As typed, e.g. `schema_backup verify`: the prefix of its messages. */
  readonly name: string;
  readonly usage: string;
  /** Pure: argv in, arguments or UsageError out. */
  parse(argv: readonly string[]): A;
  /** The exit code; a thrown error is logged and mapped by runCommand. */
  run(args: A, ctx: CommandContext): Promise<number>;
}

/** Parses, answers --help and misuse, and runs the command with one failure path. */
export async function runCommand<A extends { help: boolean; logLevel?: LogLevel; logJson?: string }>(
  command: Command<A>,
  argv: readonly string[],
  io: Io,
  env: NodeJS.ProcessEnv,
): Promise<number> {
  const args = parseOrAnswer((a) => command.parse(a), argv, io, command.name, command.usage);
  if (typeof args === 'number') return args;
  const log = createLogger({ level: args.logLevel ?? 'info', jsonFile: args.logJson, stream: io.stderr });
  try {
    return await command.run(args, { io, env, log });
  } catch (err) {
    logFailure(log, err);
    return exitCodeOf(err);
  }
}

/**
 * A binary's process: runs `main` and exits with its code. If the event loop
 * runs dry before `main` settles, some operation was dropped without a word
 * (a lost connection nobody was told about): never let that pass for success.
 *
 * Once `main` has settled and the loop has run dry (every log line written), the
 * process exits there: left to itself, Node would then take its heap apart piece
 * by piece, time that no one waits for.
 */
export function processEntry(binary: string, main: (argv: string[]) => Promise<number>): void {
  let settled = false;
  process.on('beforeExit', (code) => {
    if (settled) return process.exit(code);
    process.stderr.write(`${binary}: internal error: the run stopped before finishing (an operation was dropped without an error)\n`);
    process.exit(EXIT.internal);
  });
  main(process.argv.slice(2)).then(
    (code) => {
      settled = true;
      process.exitCode = code;
      // Let logs drain; if a stray handle keeps the loop alive, still exit with the code.
      setTimeout(() => process.exit(code), 3000).unref();
    },
    (err: unknown) => {
      settled = true;
      process.stderr.write(`${binary}: internal error: ${err instanceof Error ? err.stack : errorMessage(err)}\n`);
      process.exit(EXIT.internal);
    },
  );
}
