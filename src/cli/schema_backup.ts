#!/usr/bin/env node
/** The `schema_backup` binary. */
import { main } from './main';

let settled = false;
// The loop ran dry while the run had not finished: some operation was dropped without a word
// (a lost connection nobody was told about). Never let that pass for success (exit 0).
process.on('beforeExit', () => {
  if (settled) return;
  process.stderr.write('schema_backup: internal error: the run stopped before finishing (an operation was dropped without an error)\n');
  process.exit(1);
});

main(process.argv.slice(2)).then(
  (code) => {
    settled = true;
    process.exitCode = code;
    // Let logs drain; if a stray handle keeps the loop alive, still exit with the code.
    setTimeout(() => process.exit(code), 3000).unref();
  },
  (err: unknown) => {
    process.stderr.write(`schema_backup: internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
