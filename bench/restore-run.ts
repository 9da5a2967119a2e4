/**
 * The restore case as its own process, so the benchmark measures its wall
 * time and peak RSS from outside, like the stock client's:
 *   node dist/bench/restore-run.js ARGS.json
 * ARGS.json: { credentialsFile, database, files: [...] }; the credentials stay in their 0600 file.
 */
import { readFileSync } from 'node:fs';
import { loadCredentials } from '../src/config/credentials';
import { restoreBigTable } from './restore-case';

async function main(): Promise<void> {
  const args = JSON.parse(readFileSync(process.argv[2], 'utf8')) as { credentialsFile: string; database: string; files: string[] };
  const credentials = { ...loadCredentials({ cliPath: args.credentialsFile, configured: null }), database: args.database };
  const { rows } = await restoreBigTable({ credentials, database: args.database, files: args.files });
  process.stdout.write(`${rows}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`restore-run: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
