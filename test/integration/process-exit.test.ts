/**
 * How a binary's process ends (src/cli/command.ts processEntry), on the built module as the binaries run it:
 * once `main` has settled and the event loop has run dry, the process exits there with main's code
 * (process.exit, which spares the heap's teardown), never before the work still queued (a log line) is done;
 * a loop that runs dry before `main` settles is an internal error.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EXIT } from '../../src/errors';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

const COMMAND = resolve(__dirname, '../../dist/src/cli/command.js');

afterAll(cleanupTempDirs);

/** Runs a program that hands processEntry `mainBody`; process.reallyExit (what process.exit ends in) says when it is called. */
function runEntry(mainBody: string): { status: number | null; stdout: string; stderr: string } {
  const file = join(tempDir('sbt-exit-'), 'entry.js');
  writeFileSync(
    file,
    [
      "'use strict';",
      'const reallyExit = process.reallyExit;',
      "process.reallyExit = (code) => { process.stdout.write(`reallyExit ${code}\\n`); reallyExit.call(process, code); };",
      `const { processEntry } = require(${JSON.stringify(COMMAND)});`,
      `processEntry('test-binary', async () => { ${mainBody} });`,
      '',
    ].join('\n'),
  );
  const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('main settles with a code while work is still queued: that work finishes, then the process exits with the code through process.exit', () => {
  const r = runEntry("setTimeout(() => process.stdout.write('late line\\n'), 50); return 4;");
  expect(r.status).toBe(4);
  expect(r.stdout).toBe('late line\nreallyExit 4\n');
  expect(r.stderr).toBe('');
});

test('code 0 as well', () => {
  const r = runEntry('return 0;');
  expect(r.status).toBe(0);
  expect(r.stdout).toBe('reallyExit 0\n');
});

test('the loop runs dry before main settles: an internal error, never success', () => {
  const r = runEntry('await new Promise(() => undefined); return 0;');
  expect(r.status).toBe(EXIT.internal);
  expect(r.stderr).toMatch(/test-binary: internal error: the run stopped before finishing/);
});
