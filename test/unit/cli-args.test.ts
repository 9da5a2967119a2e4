/** The one flag reader (src/cli/argv.ts) as every command line uses it: values only where a flag takes one. */
import { PassThrough } from 'node:stream';
import { parseBackupArgs } from '../../src/cli/args';
import { main } from '../../src/cli/main';
import { parseRestoreArgs } from '../../src/cli/restore-args';
import { parseVerifyArgs } from '../../src/cli/verify-command';
import { parseExportArgs } from '../../src/cli/export-command';
import { parseStatusArgs } from '../../src/cli/status-command';
import { EXIT, UsageError } from '../../src/errors';

describe('a flag without a value refuses an inline one (exit 2, naming the flag)', () => {
  test.each([
    ['--online=false', /--online takes no value/],
    ['--dry-run=no', /--dry-run takes no value/],
    ['--model=0', /--model takes no value/],
    ['--target=', /--target takes no value/],
    ['--daemon=off', /--daemon takes no value/],
    ['--help=me', /--help takes no value/],
  ])('schema_backup %s', (arg, message) => {
    expect(() => parseBackupArgs([arg])).toThrow(UsageError);
    expect(() => parseBackupArgs([arg])).toThrow(message);
  });

  test('the other commands read flags the same way', () => {
    expect(() => parseRestoreArgs(['--merge=yes'])).toThrow(/--merge takes no value/);
    expect(() => parseRestoreArgs(['--online=false'])).toThrow(/--online takes no value/);
    expect(() => parseVerifyArgs(['--json=false'])).toThrow(/--json takes no value/);
    expect(() => parseStatusArgs(['--json=0'])).toThrow(/--json takes no value/);
  });

  test('flags that take a value still take it inline or as the next argument', () => {
    expect(parseBackupArgs(['--config=/a.conf', '-e', '/e', '--online', '--dry-run'])).toMatchObject({ config: '/a.conf', ephemeralDir: '/e', mode: 'online', dryRun: true });
    expect(parseBackupArgs(['--ephemeral-directory=/x=y'])).toMatchObject({ ephemeralDir: '/x=y' });
    expect(() => parseBackupArgs(['--config'])).toThrow(/--config needs a value/);
  });
});

describe('--daemon', () => {
  test('with --dry-run is a usage error, in either order', () => {
    expect(() => parseBackupArgs(['--daemon', '--dry-run'])).toThrow(/--dry-run cannot be combined with --daemon/);
    expect(() => parseBackupArgs(['--dry-run', '--daemon'])).toThrow(UsageError);
    expect(parseBackupArgs(['--daemon'])).toMatchObject({ command: 'daemon', dryRun: false });
  });

  test('the entry point answers exit 2 and starts nothing', async () => {
    for (const argv of [['--daemon', '--dry-run'], ['--online=false'], ['--dry-run=no']]) {
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      let err = '';
      stderr.on('data', (d: Buffer) => (err += d.toString()));
      // An environment without NOTIFY_SOCKET and a config that does not exist: a started daemon or run would say so.
      const code = await main(argv, { stdout, stderr }, { SCHEMA_BACKUP_CONF: '/nonexistent/schema_backup.conf' });
      expect({ argv, code }).toEqual({ argv, code: EXIT.usage });
      expect(err).toMatch(/^schema_backup: --(dry-run|online)/);
    }
  });
});

describe('export takes the shared options but --db-config (it reads files, no database)', () => {
  test('--config, --host-name and --log-level are taken', () => {
    expect(parseExportArgs(['--sqlite', 'f.db', '--config', 'c.conf', '--host-name', 'h', '--log-level', 'warn'])).toMatchObject({ sqlite: 'f.db', config: 'c.conf', hostName: 'h', logLevel: 'warn' });
  });
  test('--db-config is an unknown option (exit 2)', () => {
    expect(() => parseExportArgs(['--sqlite', 'f.db', '--db-config', 'creds.yaml'])).toThrow(UsageError);
    expect(() => parseExportArgs(['--sqlite', 'f.db', '--db-config', 'creds.yaml'])).toThrow(/--db-config/);
  });
});
