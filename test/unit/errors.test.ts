import { ConfigError, formatConfigMessage } from '../../src/errors';
import { checkSchedule } from '../../src/daemon/schedule';

describe('configuration messages name their file', () => {
  test('a problem whose file is not known yet has no "-:" prefix, and inFile names it', () => {
    const err = new ConfigError('user_data_backup_dir /x lies inside the git work tree /y');
    expect(err.message).toBe('user_data_backup_dir /x lies inside the git work tree /y');
    const named = err.inFile('/etc/schema_backup.conf');
    expect(named.message).toBe('/etc/schema_backup.conf: user_data_backup_dir /x lies inside the git work tree /y');
    expect(named.exitCode).toBe(err.exitCode);
  });

  test('inFile keeps a file already named', () => {
    const err = new ConfigError([{ file: '/a.conf', line: 3, key: 'global[0]', message: 'bad' }]);
    expect(err.inFile('/b.conf').message).toBe('/a.conf:3: global[0]: bad');
    expect(formatConfigMessage({ file: '', key: 'k', message: 'm' })).toBe('k: m');
  });

  test('an invalid schedule names the file it came from', () => {
    expect(() => checkSchedule('61 * * * *', '/etc/sb.conf')).toThrow(/^\/etc\/sb\.conf: schedule: /);
  });
});
