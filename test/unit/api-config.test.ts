/** `api:` in schema_backup.conf and the listen address rules (src/config/api-listen.ts). */
import { parseConfigText } from '../../src/config/load';
import { isLoopback, parseListen } from '../../src/config/api-listen';
import { ConfigError, type ConfigMessage } from '../../src/errors';

const FILE = '/etc/schema_backup/schema_backup.conf';
const parse = (api: string) => parseConfigText(`global: [a]\nuser_data_backup_dir: /u\n${api}\n`, { file: FILE, installRoot: '/opt/sb' });

function problemsOf(api: string): ConfigMessage[] {
  try {
    parse(api);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('parseListen', () => {
  test.each([
    ['127.0.0.1:8089', { kind: 'tcp', host: '127.0.0.1', port: 8089, loopback: true }],
    ['127.1.2.3:1', { kind: 'tcp', host: '127.1.2.3', port: 1, loopback: true }],
    ['[::1]:8089', { kind: 'tcp', host: '::1', port: 8089, loopback: true }],
    ['localhost:8089', { kind: 'tcp', host: '127.0.0.1', port: 8089, loopback: true }],
    ['0.0.0.0:8089', { kind: 'tcp', host: '0.0.0.0', port: 8089, loopback: false }],
    ['[::]:8089', { kind: 'tcp', host: '::', port: 8089, loopback: false }],
    ['192.0.2.7:443', { kind: 'tcp', host: '192.0.2.7', port: 443, loopback: false }],
    ['unix:/run/schema_backup/api.sock', { kind: 'unix', path: '/run/schema_backup/api.sock' }],
  ])('%s', (text, expected) => {
    expect(parseListen(text)).toEqual(expected);
  });

  test.each(['8089', 'example.org:80', '127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000', '999.1.1.1:80', 'unix:run/api.sock', 'unix:/a\nb', `unix:/${'x'.repeat(120)}`, '[::1]', '::1:80'])(
    'refuses %j with a reason',
    (text) => {
      expect(parseListen(text)).toEqual({ problem: expect.any(String) });
    },
  );

  test('loopback is 127/8 and ::1 only', () => {
    expect([isLoopback('127.0.0.1'), isLoopback('::1'), isLoopback('::ffff:127.0.0.1'), isLoopback('10.0.0.1'), isLoopback('::'), isLoopback('localhost')]).toEqual([
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
  });
});

describe('api: in schema_backup.conf', () => {
  test('absent: no listener', () => {
    expect(parse('').config.api).toBeNull();
  });

  test('a unix socket, restores allowed', () => {
    expect(parse('api: { listen: "unix:/run/schema_backup/api.sock", allow_restore: true }').config.api).toEqual({
      listen: { kind: 'unix', path: '/run/schema_backup/api.sock' },
      allowRemote: false,
      allowRestore: true,
    });
  });

  test('a non-loopback address needs allow_remote: true', () => {
    const [p] = problemsOf('api:\n  listen: "0.0.0.0:8089"');
    expect(p).toMatchObject({ line: 4, key: 'api.listen', message: expect.stringMatching(/allow_remote: true.*reverse proxy/) });
    expect(parse('api: { listen: "0.0.0.0:8089", allow_remote: true }').config.api).toMatchObject({ allowRemote: true, listen: { loopback: false } });
  });

  test('errors name the key and line; unknown sub-keys are warned about', () => {
    expect(problemsOf('api: { listen: 8089 }')).toEqual([expect.objectContaining({ key: 'api.listen', line: 3 })]);
    expect(problemsOf('api: true')).toEqual([expect.objectContaining({ key: 'api', message: expect.stringMatching(/expected a mapping/) })]);
    expect(problemsOf('api: { allow_restore: true }')).toEqual([expect.objectContaining({ key: 'api.listen' })]);
    expect(problemsOf('api: { listen: "127.0.0.1:8089", allow_restore: yes please }')).toEqual([expect.objectContaining({ key: 'api.allow_restore' })]);
    const { warnings } = parse('api: { listen: "127.0.0.1:8089", allow_restores: true }');
    expect(warnings).toEqual(expect.arrayContaining([expect.objectContaining({ key: 'api.allow_restores', message: expect.stringMatching(/unknown parameter/) })]));
  });
});
