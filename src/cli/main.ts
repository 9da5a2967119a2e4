/** schema_backup's command table: the first argument picks the command, each runs through the one wiring (src/cli/command.ts). */
import { backupCommand } from './backup-command';
import { runCommand, type Command } from './command';
import type { Io } from './io';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each command has its own arguments
type AnyCommand = Command<any>;

/** Subcommands load their modules only when used: every backup pays for what it imports. */
const SUBCOMMANDS: Record<string, () => Promise<AnyCommand>> = {
  status: async () => (await import('./status-command')).STATUS,
  verify: async () => (await import('./verify-command')).VERIFY,
  export: async () => (await import('./export-command')).EXPORT,
  token: async () => (await import('./token-command')).TOKEN,
};

export async function main(argv: string[], io: Io = process, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const sub = Object.hasOwn(SUBCOMMANDS, argv[0] ?? '') ? SUBCOMMANDS[argv[0] as string] : undefined;
  if (sub) return runCommand(await sub(), argv.slice(1), io, env);
  return runCommand(backupCommand, argv, io, env);
}
