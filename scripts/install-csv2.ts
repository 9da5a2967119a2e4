/**
 * `npm run install-csv2 -- --root DIR [--force]`: puts the wrapper CSV2's
 * db_upgrade runs at `<root>/utilities/schema_backup` (src/install). A
 * deployment step run from this checkout, so it is a script and not a
 * subcommand of the schema_backup binary, which the wrapper itself runs.
 */
import { join, resolve } from 'node:path';
import { flags, parseOrAnswer } from '../src/cli/argv';
import { installRoot } from '../src/config/paths';
import { EXIT, UsageError, errorMessage, exitCodeOf } from '../src/errors';
import { installWrapper, rootConfigNotes } from '../src/install/install';

const USAGE = `Usage: npm run install-csv2 -- --root DIR [--force]
       node dist/scripts/install-csv2.js --root DIR [--force]

Writes DIR/utilities/schema_backup, where CSV2's db_upgrade runs schema_backup: a shell wrapper
that runs this installation (node and dist/src/cli/schema_backup.js, absolute paths) with every
argument unchanged, reading DIR/etc/schema_backup.conf and defaulting csv2_backup_dir to
DIR/schema/schema_backup. It holds no credentials. Running it again is harmless.

Options:
  --root DIR   the CSV2 root (e.g. /opt/cloudscheduler); must exist
  --force      replace a file there that is not a schema_backup wrapper (CSV2's own schema_backup)
  -h, --help   show this help

Exit codes: 0 installed or already up to date, 2 usage (or a file there that --force would replace),
3 this schema_backup is not built, 5 the wrapper could not be written.
`;

interface InstallArgs {
  root?: string;
  force: boolean;
  help: boolean;
}

function parseInstallArgs(argv: readonly string[]): InstallArgs {
  const args: InstallArgs = { force: false, help: false };
  for (const flag of flags(argv)) {
    switch (flag.name) {
      case '--root': args.root = flag.value(); break;
      case '--force': args.force = true; break;
      case '-h':
      case '--help': args.help = true; break;
      default: flag.unknown();
    }
  }
  if (!args.help && args.root === undefined) throw new UsageError('--root DIR is required (the CSV2 root, e.g. /opt/cloudscheduler)');
  return args;
}

const VERB = { create: 'installed', update: 'updated', replace: 'replaced (--force)', unchanged: 'already up to date' } as const;

async function main(argv: string[]): Promise<number> {
  const args = parseOrAnswer(parseInstallArgs, argv, process, 'install-csv2', USAGE);
  if (typeof args === 'number') return args;
  const root = resolve(args.root as string);
  const installDir = installRoot();
  try {
    const result = await installWrapper(
      { root, node: process.execPath, cli: join(installDir, 'dist', 'src', 'cli', 'schema_backup.js'), installDir },
      { force: args.force },
    );
    process.stdout.write(`install-csv2: ${result.path}: ${VERB[result.action]}\n`);
    for (const note of rootConfigNotes(root)) process.stderr.write(`install-csv2: warning: ${note}\n`);
    return EXIT.ok;
  } catch (err) {
    process.stderr.write(`install-csv2: ${errorMessage(err)}\n`);
    return exitCodeOf(err);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`install-csv2: internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
