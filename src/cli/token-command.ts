/**
 * `schema_backup token add NAME --scope read|backup|export|restore`,
 * `token list [--json]`, `token remove NAME` (each with `[--config FILE]`):
 * the tokens of the daemon's HTTP API, kept in `state_dir/api-tokens`.
 * A new token is printed once, on stdout; only its hash is stored.
 */
import { flags } from './argv';
import { runCommand, type Command, type CommandContext } from './command';
import type { Io } from './io';
import { loadConfig, resolveConfigPath } from '../config/load';
import { defaultsRoot } from '../config/paths';
import { ConfigError, EXIT, UsageError, errorMessage, exitCodeOf, formatConfigMessage } from '../errors';
import { SCOPES, isScope, newToken, readTokens, tokenFilePath, tokenNameProblem, tokenSha256, writeTokens, type Scope } from '../api/tokens';

export interface TokenArgs {
  help: boolean;
  action: 'add' | 'list' | 'remove';
  name: string | null;
  scope: Scope | null;
  json: boolean;
  configPath?: string;
}

export const TOKEN_USAGE = `usage: schema_backup token add NAME --scope ${SCOPES.join('|')} [--config FILE]
       schema_backup token list [--json] [--config FILE]
       schema_backup token remove NAME [--config FILE]
Scopes are cumulative in that order (read < backup < export < restore). A new token is printed
once; only its sha256 is kept, in state_dir/api-tokens (0600).
`;

/** Throws UsageError on misuse. */
export function parseTokenArgs(argv: readonly string[]): TokenArgs {
  const args: TokenArgs = { help: false, action: 'list', name: null, scope: null, json: false };
  const positional: string[] = [];
  for (const flag of flags(argv)) {
    switch (flag.name) {
      case '-h':
      case '--help':
        args.help = true;
        break;
      case '--scope': {
        const s = flag.value();
        if (!isScope(s)) throw new UsageError(`--scope must be one of ${SCOPES.join(', ')}`);
        args.scope = s;
        break;
      }
      case '--json':
        args.json = true;
        break;
      case '--config':
        args.configPath = flag.value();
        break;
      default:
        if (flag.name.startsWith('-')) flag.unknown();
        positional.push(flag.name);
    }
  }
  if (args.help) return args;
  const [action, name, ...rest] = positional;
  if (action !== 'add' && action !== 'list' && action !== 'remove') throw new UsageError(`expected add, list or remove${action ? `, not ${JSON.stringify(action)}` : ''}`);
  args.action = action;
  if (rest.length) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`);
  if (action === 'list') {
    if (name !== undefined) throw new UsageError('token list takes no name');
  } else {
    if (name === undefined) throw new UsageError(`token ${action} needs a NAME`);
    const problem = tokenNameProblem(name);
    if (problem) throw new UsageError(`${JSON.stringify(name)}: ${problem}`);
    args.name = name;
  }
  if (action === 'add' && args.scope === null) throw new UsageError(`token add needs --scope ${SCOPES.join('|')}`);
  if (action !== 'add' && args.scope !== null) throw new UsageError(`--scope is for token add`);
  if (action !== 'list' && args.json) throw new UsageError('--json is for token list');
  return args;
}

export const TOKEN: Command<TokenArgs> = { name: 'schema_backup token', usage: TOKEN_USAGE, parse: parseTokenArgs, run: manageTokens };

export function tokenCommand(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return runCommand(TOKEN, argv, io, env);
}

async function manageTokens(args: TokenArgs, { io, env }: CommandContext): Promise<number> {
  const fail = (message: string, code: number): number => {
    io.stderr.write(`schema_backup token: ${message}\n`);
    return code;
  };
  let stateDir: string;
  try {
    const root = defaultsRoot(env);
    stateDir = loadConfig(resolveConfigPath({ cliPath: args.configPath, env, installRoot: root }), { installRoot: root }).config.stateDir;
  } catch (err) {
    const lines = err instanceof ConfigError ? err.problems.map(formatConfigMessage) : [errorMessage(err)];
    return fail(lines.join('\nschema_backup token: '), EXIT.config);
  }
  try {
    const tokens = await readTokens(stateDir);
    const file = tokenFilePath(stateDir);
    if (args.action === 'list') {
      const rows = tokens.map((t) => ({ name: t.name, scope: t.scope, created: t.created }));
      if (args.json) io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      else if (rows.length === 0) io.stdout.write(`no tokens in ${file}\n`);
      else {
        const width = Math.max(4, ...rows.map((r) => r.name.length));
        io.stdout.write(`${'NAME'.padEnd(width)}  SCOPE    CREATED\n`);
        for (const r of rows) io.stdout.write(`${r.name.padEnd(width)}  ${r.scope.padEnd(7)}  ${r.created}\n`);
      }
      return EXIT.ok;
    }
    const name = args.name as string;
    if (args.action === 'remove') {
      if (!tokens.some((t) => t.name === name)) return fail(`no token named ${JSON.stringify(name)} in ${file}`, EXIT.usage);
      await writeTokens(stateDir, tokens.filter((t) => t.name !== name));
      io.stderr.write(`schema_backup token: removed ${name}; requests with it are refused from now on\n`);
      return EXIT.ok;
    }
    if (tokens.some((t) => t.name === name)) return fail(`a token named ${JSON.stringify(name)} exists already; remove it first (token remove ${name})`, EXIT.usage);
    const token = newToken();
    await writeTokens(stateDir, [...tokens, { name, scope: args.scope as Scope, sha256: tokenSha256(token), created: new Date().toISOString() }]);
    io.stdout.write(`${token}\n`);
    io.stderr.write(`schema_backup token: added ${name} (scope ${args.scope}); the token above is shown only this once: store it now\n`);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof ConfigError) return fail(err.problems.map(formatConfigMessage).join('; '), EXIT.config);
    return fail(errorMessage(err), exitCodeOf(err) === EXIT.internal ? EXIT.store : exitCodeOf(err));
  }
}
