/**
 * The socket for `localhost`, chosen as the mysql clients choose it: configured,
 * else from the client groups of the standard option files (includes followed),
 * else the platform default, else TCP. No server and no /etc: the option files
 * and the sockets that exist are given to the functions.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readClientSettings, standardOptionFiles, type OptionFileSystem } from '../../src/config/client-options';
import { readCredentials, type ClientEnvironment } from '../../src/config/credentials';
import { parseCredentialsText } from '../../src/config/credentials-parse';
import { parseOptionFile } from '../../src/config/option-file';
import { PLATFORM_SOCKETS, resolveTransport } from '../../src/config/socket';
import type { DbCredentials } from '../../src/config/types';
import { connectionOptions, where } from '../../src/db/connect';

/** An in-memory file system: path -> text (mode 0644 unless given as [text, mode]); a directory lists the paths under it. */
function fakeFiles(files: Record<string, string | [string, number]>): OptionFileSystem & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    readFile(path) {
      reads.push(path);
      const f = files[path];
      if (f === undefined) return null;
      return typeof f === 'string' ? { text: f, mode: 0o644 } : { text: f[0], mode: f[1] };
    },
    listDirectory(dir) {
      const prefix = dir.endsWith('/') ? dir : `${dir}/`;
      const names = Object.keys(files)
        .filter((p) => p.startsWith(prefix) && !p.slice(prefix.length).includes('/'))
        .map((p) => p.slice(prefix.length));
      // Unsorted on purpose: the reader must sort as mysys does.
      return names.length > 0 ? names.reverse() : null;
    },
  };
}

const localhost = (socketPath: string | null = null): DbCredentials => ({
  host: 'localhost',
  port: 3306,
  socketPath,
  user: 'csv2',
  password: 'pw',
  database: 'csv2',
  source: '/etc/cloudscheduler/cloudscheduler.yaml',
});

const nothingExists = (): boolean => false;

describe('option-file text', () => {
  test('gives options by group in file order, directives in place, groups seen', () => {
    const parsed = parseOptionFile(
      ['# comment', '!include /etc/a.cnf', '[Client]', 'Socket = "/x y.sock"  # where', 'loose_port=3307', 'no-beep', '[mysqld]', 'socket=/srv.sock', '!includedir /etc/my.cnf.d', '[client-server]'].join('\n'),
      '/f',
    );
    expect(parsed.items).toEqual([
      { kind: 'include', line: 2, path: '/etc/a.cnf' },
      { kind: 'option', line: 4, group: 'client', name: 'socket', value: '/x y.sock' },
      { kind: 'option', line: 5, group: 'client', name: 'port', value: '3307' },
      { kind: 'option', line: 6, group: 'client', name: 'no-beep', value: null },
      { kind: 'option', line: 8, group: 'mysqld', name: 'socket', value: '/srv.sock' },
      { kind: 'includedir', line: 9, path: '/etc/my.cnf.d' },
    ]);
    expect(parsed.groups).toEqual(['client', 'mysqld', 'client-server']);
    expect(parsed.problems).toEqual([]);
  });

  test('an unknown directive or an unterminated header is a problem with its line', () => {
    const parsed = parseOptionFile('!frobnicate x\n[client\nsocket=/a\n', '/f');
    expect(parsed.problems.map((p) => p.line)).toEqual([1, 2]);
  });
});

describe('standard option files', () => {
  test('are /etc/my.cnf, /etc/mysql/my.cnf, then ~/.my.cnf', () => {
    expect(standardOptionFiles('/home/u')).toEqual(['/etc/my.cnf', '/etc/mysql/my.cnf', '/home/u/.my.cnf']);
    expect(standardOptionFiles(null)).toEqual(['/etc/my.cnf', '/etc/mysql/my.cnf']);
  });

  test('keep only the client groups, in reading order, following !include and !includedir (sorted, *.cnf only)', () => {
    const fs = fakeFiles({
      '/etc/my.cnf': '[client]\nsocket=/one.sock\n!includedir /etc/my.cnf.d\n',
      '/etc/my.cnf.d/b.cnf': '[mysqld]\nsocket=/server-only.sock\n[client-mariadb]\nsocket=/three.sock\n',
      '/etc/my.cnf.d/a.cnf': '[client-server]\nsocket=/two.sock\n',
      '/etc/my.cnf.d/c.cnf.rpmsave': '[client]\nsocket=/never.sock\n',
      '/etc/mysql/my.cnf': '!include /etc/mysql/extra.cnf\n[mysql]\nport=3307\n',
      '/etc/mysql/extra.cnf': '[CLIENT]\nsocket=/four.sock\n',
      '/home/u/.my.cnf': '[mysqldump]\nsocket=/dump-only.sock\n',
    });
    const { settings, skipped } = readClientSettings(standardOptionFiles('/home/u'), fs);
    expect(settings.map((s) => [s.file, s.line, s.group, s.name, s.value])).toEqual([
      ['/etc/my.cnf', 2, 'client', 'socket', '/one.sock'],
      ['/etc/my.cnf.d/a.cnf', 2, 'client-server', 'socket', '/two.sock'],
      ['/etc/my.cnf.d/b.cnf', 4, 'client-mariadb', 'socket', '/three.sock'],
      ['/etc/mysql/extra.cnf', 2, 'client', 'socket', '/four.sock'],
      ['/etc/mysql/my.cnf', 3, 'mysql', 'port', '3307'],
    ]);
    expect(skipped).toEqual([]);
  });

  test('a world-writable file is ignored with a reason, as the clients ignore it', () => {
    const fs = fakeFiles({ '/etc/my.cnf': ['[client]\nsocket=/evil.sock\n', 0o666] });
    const { settings, skipped } = readClientSettings(['/etc/my.cnf'], fs);
    expect(settings).toEqual([]);
    expect(skipped).toEqual([{ file: '/etc/my.cnf', reason: expect.stringContaining('world-writable') }]);
  });

  test('an include cycle ends at the nesting limit instead of looping', () => {
    const fs = fakeFiles({ '/a.cnf': '[client]\nsocket=/a.sock\n!include /a.cnf\n' });
    const { settings, skipped } = readClientSettings(['/a.cnf'], fs);
    expect(settings).toHaveLength(10);
    expect(skipped).toHaveLength(1);
    expect(skipped[0]?.reason).toContain('nested too deep');
  });
});

describe('resolveTransport', () => {
  const setting = (file: string, line: number, group: string, value: string | null) => ({ file, line, group, name: 'socket', value });

  test('a configured socket wins over the option files and the platform', () => {
    const c = resolveTransport(localhost('/configured.sock'), { clientSettings: [setting('/etc/my.cnf', 2, 'client', '/other.sock')], socketExists: () => true });
    expect(c.socketPath).toBe('/configured.sock');
    expect(c.transport).toContain('configured in /etc/cloudscheduler/cloudscheduler.yaml');
  });

  test('else the last socket of the client groups, used even when it does not exist (as the clients do)', () => {
    const c = resolveTransport(localhost(), {
      clientSettings: [setting('/etc/my.cnf', 2, 'client', '/first.sock'), setting('/etc/mysql/my.cnf', 7, 'client-server', '/last.sock')],
      socketExists: nothingExists,
    });
    expect(c.socketPath).toBe('/last.sock');
    expect(where(c)).toBe('socket /last.sock (socket from [client-server] in /etc/mysql/my.cnf:7)');
  });

  test('an empty socket setting puts the default back', () => {
    const c = resolveTransport(localhost(), {
      clientSettings: [setting('/etc/my.cnf', 2, 'client', '/first.sock'), setting('/home/u/.my.cnf', 2, 'client', '')],
      socketExists: (p) => p === '/var/run/mysqld/mysqld.sock',
    });
    expect(c.socketPath).toBe('/var/run/mysqld/mysqld.sock');
  });

  test.each(PLATFORM_SOCKETS.map((p, i) => [p, PLATFORM_SOCKETS.slice(i)] as const))('else the first platform socket that exists: %s', (expected, existing) => {
    const c = resolveTransport(localhost(), { clientSettings: [], socketExists: (p) => existing.includes(p) });
    expect(c.socketPath).toBe(expected);
    expect(connectionOptions(c)).toMatchObject({ socketPath: expected });
    expect(connectionOptions(c).host).toBeUndefined();
  });

  test('TCP only when there is no socket at all, and the message says why', () => {
    const c = resolveTransport(localhost(), { clientSettings: [], socketExists: nothingExists });
    expect(c.socketPath).toBeNull();
    expect(connectionOptions(c)).toMatchObject({ host: 'localhost', port: 3306 });
    expect(where(c)).toMatch(/^localhost:3306 \(TCP: no socket configured.*\/run\/mysqld\/mysqld\.sock/);
  });

  test('no host is localhost', () => {
    const c = resolveTransport({ ...localhost(), host: '' }, { clientSettings: [], socketExists: (p) => p === '/tmp/mysql.sock' });
    expect(c.socketPath).toBe('/tmp/mysql.sock');
  });

  test.each(['127.0.0.1', 'db.example.org', '::1'])('a named host %s keeps TCP, whatever the option files say', (host) => {
    const c = resolveTransport({ ...localhost(), host }, { clientSettings: [setting('/etc/my.cnf', 2, 'client', '/x.sock')], socketExists: () => true });
    expect(c).toEqual({ ...localhost(), host });
    expect(connectionOptions(c)).toMatchObject({ host, port: 3306 });
  });
});

describe('readCredentials on a CSV2 cloudscheduler.yaml', () => {
  // As CSV2 ships it: host localhost, a quoted port, no db_socket, sections CSV2 alone reads.
  const CSV2_FILE = [
    'database:',
    '  db_host: "localhost"',
    '  db_port: "3306"',
    '  db_user: "csv2"',
    '  db_password: "not-a-real-one"',
    '  db_name: "csv2"',
    'signals:',
    '  port: 8080',
    'influx:',
    '  db_host: influx.example.org',
    '  db_port: 8086',
    '',
  ].join('\n');

  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'sb-socket-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  function csv2File(text = CSV2_FILE): string {
    const path = join(tmp, `cloudscheduler-${Math.random().toString(16).slice(2)}.yaml`);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  }

  test('the parsed credentials say localhost with no socket: the choice is left to the lookup', () => {
    expect(parseCredentialsText(CSV2_FILE, '/f')).toMatchObject({ host: 'localhost', port: 3306, socketPath: null, user: 'csv2', database: 'csv2' });
  });

  test('connects over the socket a Debian /etc/mysql/my.cnf names through !includedir', () => {
    const optionFiles = fakeFiles({
      '/etc/mysql/my.cnf': '[client-server]\n!includedir /etc/mysql/conf.d/\n!includedir /etc/mysql/mariadb.conf.d/\n',
      '/etc/mysql/mariadb.conf.d/50-client.cnf': '[client]\nsocket = /run/mysqld/mysqld.sock\n',
      '/etc/mysql/mariadb.conf.d/50-server.cnf': '[mysqld]\nsocket = /elsewhere.sock\n',
    });
    const env: ClientEnvironment = { optionFiles, home: '/root', socketExists: nothingExists };
    const { credentials, warnings } = readCredentials({ cliPath: csv2File(), configured: null }, env);
    expect(credentials).toMatchObject({ host: 'localhost', port: 3306, socketPath: '/run/mysqld/mysqld.sock' });
    expect(credentials.transport).toBe('socket from [client] in /etc/mysql/mariadb.conf.d/50-client.cnf:2');
    expect(warnings).toEqual([]);
    expect(optionFiles.reads).toContain('/root/.my.cnf');
  });

  test('on RHEL/CentOS (no client socket in the option files) the platform socket is found', () => {
    const env: ClientEnvironment = {
      optionFiles: fakeFiles({ '/etc/my.cnf': '[mysqld]\nsocket=/var/lib/mysql/mysql.sock\n!includedir /etc/my.cnf.d\n', '/etc/my.cnf.d/client.cnf': '[client]\n[client-mariadb]\n' }),
      home: null,
      socketExists: (p) => p === '/var/lib/mysql/mysql.sock',
    };
    expect(readCredentials({ cliPath: csv2File(), configured: null }, env).credentials.socketPath).toBe('/var/lib/mysql/mysql.sock');
  });

  test('a named host does not read the option files at all', () => {
    const optionFiles = fakeFiles({});
    const env: ClientEnvironment = { optionFiles, home: '/root', socketExists: () => true };
    const c = readCredentials({ cliPath: csv2File(CSV2_FILE.replace('db_host: "localhost"', 'db_host: "127.0.0.1"')), configured: null }, env).credentials;
    expect(c.socketPath).toBeNull();
    expect(optionFiles.reads).toEqual([]);
  });

  test('an option file ignored for being world-writable is a warning naming it', () => {
    const env: ClientEnvironment = { optionFiles: fakeFiles({ '/etc/my.cnf': ['[client]\nsocket=/x.sock\n', 0o646] }), home: null, socketExists: nothingExists };
    const { credentials, warnings } = readCredentials({ cliPath: csv2File(), configured: null }, env);
    expect(credentials.socketPath).toBeNull();
    expect(warnings).toEqual([{ file: '/etc/my.cnf', message: expect.stringContaining('world-writable') }]);
  });
});
