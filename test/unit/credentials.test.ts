/** Database credentials: the CSV2 YAML format, MySQL option files, defaults, and failures that never show the password. */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CREDENTIALS_FILE, credentialsPath, loadCredentials, readCredentials } from '../../src/config/credentials';
import { detectCredentialsFormat, parseCredentialsText } from '../../src/config/credentials-parse';
import type { DbCredentials } from '../../src/config/types';
import { parseYaml } from '../../src/config/yaml';
import { ConfigError } from '../../src/errors';

const SECRET = 'S3cr3t#pw-9f2';

let tmp: string;
let n = 0;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'sb-creds-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

function file(text: string, name = `creds-${++n}`): string {
  const path = join(tmp, name);
  writeFileSync(path, text);
  return path;
}

function load(text: string): DbCredentials {
  return loadCredentials({ cliPath: file(text), configured: null });
}

function failure(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const CSV2 = `
# cloudscheduler.yaml
general:
  log_level: 20
database:
  db_host: db.example.org
  db_port: 3307
  db_user: csv2
  db_password: "${SECRET}"
  db_name: csv2
web:
  port: 8080
`;

describe('CSV2 cloudscheduler.yaml', () => {
  test('reads the database section and ignores the others', () => {
    const path = file(CSV2);
    expect(loadCredentials({ cliPath: path, configured: null })).toEqual<DbCredentials>({
      host: 'db.example.org',
      port: 3307,
      socketPath: null,
      user: 'csv2',
      password: SECRET,
      database: 'csv2',
      source: path,
    });
  });

  test('host and port default to localhost:3306, as in the mysql clients (the socket is chosen later: client-socket.test.ts)', () => {
    const c = parseCredentialsText('database:\n  db_user: u\n  db_name: d\n  db_password: p\n', '/f');
    expect([c.host, c.port, c.socketPath]).toEqual(['localhost', 3306, null]);
  });

  test('a socket alone means localhost over the socket', () => {
    const c = load('database:\n  db_socket: /run/mysqld/mysqld.sock\n  db_user: u\n  db_name: d\n');
    expect([c.host, c.socketPath]).toEqual(['localhost', '/run/mysqld/mysqld.sock']);
  });

  test('values YAML would type are kept as written (a password 007 stays 007)', () => {
    const c = load("database:\n  db_user: 1234\n  db_password: 007\n  db_name: 'csv2'\n  db_port: '3308'\n");
    expect([c.user, c.password, c.database, c.port]).toEqual(['1234', '007', 'csv2', 3308]);
  });

  test('an empty password is allowed', () => {
    expect(load('database:\n  db_user: root\n  db_password:\n  db_name: csv2\n').password).toBe('');
    expect(load('database:\n  db_user: root\n  db_name: csv2\n').password).toBe('');
  });
});

describe('CSV2 sections schema_backup does not read (PyYAML reads the file in CSV2)', () => {
  const DATABASE = `database:\n  db_host: db.example.org\n  db_user: csv2\n  db_password: "${SECRET}"\n  db_name: csv2\n`;

  test.each([
    ['anchors, aliases and a merge key', `defaults: &defaults\n  retries: 3\nsignals:\n  <<: *defaults\n  port: 8080\ninflux:\n  retries: *defaults\n${DATABASE}`],
    ['an anchor in database: used by another section', `database:\n  db_host: &host db.example.org\n  db_user: csv2\n  db_name: csv2\ninflux:\n  db_host: *host\n`],
    ['a duplicate key inside another section', `signals:\n  port: 8080\n  port: 8081\n${DATABASE}`],
    ['a duplicate section other than database:', `influx:\n  db_port: 8086\n${DATABASE}influx:\n  db_port: 8087\n`],
    ['a tag in another section', `signals:\n  ports: !!set {8080, 8081}\n  when: !!timestamp 2001-12-14\n${DATABASE}`],
  ])('%s: the file is valid and database: is read', (_label, text) => {
    expect(load(text)).toMatchObject({ host: 'db.example.org', user: 'csv2', database: 'csv2' });
  });

  test('a duplicate key inside database: stays an error naming file, line and key', () => {
    const path = file(`signals:\n  port: 1\ndatabase:\n  db_user: csv2\n  db_name: csv2\n  db_user: other\n  db_password: "${SECRET}"\n`);
    const err = failure(() => loadCredentials({ cliPath: path, configured: null }));
    expect(err.problems).toEqual([{ file: path, line: 6, key: 'database.db_user', message: 'duplicate key (first given at line 4): give each key once' }]);
  });

  test('a second database: section stays an error', () => {
    const path = file(`${DATABASE}signals:\n  port: 1\ndatabase:\n  db_user: x\n`);
    const err = failure(() => loadCredentials({ cliPath: path, configured: null }));
    expect(err.message).toContain(`${path}:8: database: duplicate key (first given at line 1)`);
  });

  test('an alias inside database: stays an error naming its line', () => {
    const path = file(`influx:\n  user: &u csv2\ndatabase:\n  db_user: *u\n  db_name: csv2\n`);
    const err = failure(() => loadCredentials({ cliPath: path, configured: null }));
    expect(err.message).toContain(`${path}:4: YAML anchors and aliases`);
  });

  test('the tolerance is the credentials file\'s: schema_backup.conf still refuses an alias in any key', () => {
    expect(parseYaml('a: &x 1\nb: *x\n', '/conf').problems).toHaveLength(1);
  });
});

describe('a credentials file others can read', () => {
  test.each([
    [0o644, 'its group and all users'],
    [0o640, 'its group'],
    [0o604, 'all users'],
  ])('mode %o: a warning naming the file and the chmod to run; the credentials are read', (mode, who) => {
    const path = file(CSV2);
    chmodSync(path, mode);
    const { credentials, warnings } = readCredentials({ cliPath: path, configured: null });
    expect(credentials.user).toBe('csv2');
    expect(warnings).toEqual([
      { file: path, message: `readable by ${who} (mode 0${mode.toString(8)}): the database password is exposed; run \`chmod go-rwx ${path}\`` },
    ]);
  });

  test.each([0o600, 0o400, 0o620])('mode %o: no warning', (mode) => {
    const path = file(CSV2);
    chmodSync(path, mode);
    expect(readCredentials({ cliPath: path, configured: null }).warnings).toEqual([]);
  });
});

describe('MySQL option file', () => {
  test('reads [client] with comments, quotes, escapes and other sections', () => {
    const c = load(
      [
        '# managed by hand',
        '; old-style comment',
        '[mysqld]',
        'user = mysql',
        'port = 9999',
        '',
        '[client]',
        'host = db.local   # the primary',
        'port=3310',
        `password = "${SECRET}"`,
        "user = 'backup user'",
        'database = csv2\\sdb',
        '',
        '[mysqldump]',
        'user = other',
      ].join('\n'),
    );
    expect(c).toMatchObject({ host: 'db.local', port: 3310, socketPath: null, user: 'backup user', password: SECRET, database: 'csv2 db' });
  });

  test('accepts dashes or underscores and loose- prefixes in option names; a bare `password` is empty', () => {
    const c = load('[client]\nloose_user=u\nDATABASE=d\nsocket = /tmp/my.sock\npassword\n');
    expect(c).toMatchObject({ host: 'localhost', port: 3306, socketPath: '/tmp/my.sock', user: 'u', database: 'd', password: '' });
  });

  test('an unquoted # starts a comment, as in MariaDB', () => {
    expect(load('[client]\nuser=u\ndatabase=d\npassword=abc#def\n').password).toBe('abc');
    expect(load("[client]\nuser=u\ndatabase=d\npassword='abc#def'\n").password).toBe('abc#def');
  });

  test('is detected from a header after comments; YAML otherwise', () => {
    expect(detectCredentialsFormat('\n# x\n; y\n[client]\n')).toBe('option-file');
    expect(detectCredentialsFormat('!include /etc/my.cnf.d/x.cnf\n')).toBe('option-file');
    expect(detectCredentialsFormat('# x\ndatabase:\n  db_user: u\n')).toBe('csv2-yaml');
  });
});

describe('failures', () => {
  test('a missing file names the file', () => {
    const path = join(tmp, 'nope.yaml');
    const err = failure(() => loadCredentials({ cliPath: path, configured: null }));
    expect(err.message).toBe(`${path}: database credentials file does not exist`);
  });

  test('a directory is refused', () => {
    const dir = join(tmp, 'dir.cnf');
    mkdirSync(dir);
    expect(failure(() => loadCredentials({ cliPath: dir, configured: null })).message).toContain('is a directory');
  });

  // Root can read any file; /proc/self/mem opens but fails every read at offset 0.
  (process.platform === 'linux' ? test : test.skip)('an unreadable file is refused', () => {
    expect(failure(() => loadCredentials({ cliPath: '/proc/self/mem', configured: null })).message).toContain('cannot read the database credentials file');
  });

  test.each([
    ['no user (CSV2)', `database:\n  db_password: ${SECRET}\n  db_name: csv2\n`, 'database.db_user: missing: the database user name is required'],
    ['no database name (CSV2)', `database:\n  db_user: u\n  db_password: '${SECRET}'\n`, 'database.db_name: missing: the database name is required'],
    ['no user (option file)', `[client]\npassword=${SECRET}\ndatabase=d\n`, '[client] user: missing'],
    ['no database (option file)', `[client]\nuser=u\npassword="${SECRET}"\n`, '[client] database: missing'],
    ['no database section', `general:\n  password: ${SECRET}\n`, 'no `database:` section'],
    ['no [client] section', `[mysqld]\npassword=${SECRET}\n`, 'no `[client]` section'],
    ['a bad port', `database:\n  db_user: u\n  db_password: ${SECRET}\n  db_name: d\n  db_port: 99999\n`, 'is not a TCP port'],
    ['a list as password', `database:\n  db_user: u\n  db_password: [${SECRET}]\n  db_name: d\n`, 'database.db_password: expected a single value'],
    ['YAML broken on the password line', `database:\n  db_user: u\n  db_password: "${SECRET}\n  db_name: d\n`, 'YAML syntax error'],
    ['a YAML tag made of the password', `database:\n  db_user: u\n  db_password: !${SECRET}\n  db_name: d\n`, 'YAML tags (`!name`) are not supported'],
    ['an alias', `database:\n  db_user: &p u\n  db_password: *p\n  db_name: d\n`, 'anchors and aliases'],
    ['an empty file', '', 'no database credentials found'],
    ['!include', `!include /etc/secret.cnf\n[client]\nuser=u\ndatabase=d\npassword=${SECRET}\n`, '!include directives are not followed'],
  ])('%s: a ConfigError naming file and key, without the password', (_label, text, expected) => {
    const path = file(text);
    const err = failure(() => loadCredentials({ cliPath: path, configured: null }));
    expect(err.message).toContain(path);
    expect(err.message).toContain(expected);
    expect(err.message).not.toContain(SECRET);
    expect(err.message).not.toContain('S3cr3t');
    expect(JSON.stringify(err.problems)).not.toContain('S3cr3t');
  });

  test('the parse error of an unparsable password value is redacted even if the reason quotes it', () => {
    const err = failure(() => parseCredentialsText(`database:\n  db_password: !<${SECRET}> x\n  db_user: u\n  db_name: d\n`, '/x'));
    expect(err.message).not.toContain('S3cr3t');
  });
});

describe('which file', () => {
  test('--db-config wins over db_config', () => {
    const a = file(CSV2, 'a.yaml');
    expect(loadCredentials({ cliPath: a, configured: '/nonexistent/b.yaml' }).source).toBe(a);
  });

  test('db_config is used without --db-config', () => {
    const b = file('[client]\nuser=u\ndatabase=d\n', 'b.cnf');
    expect(loadCredentials({ configured: b }).source).toBe(b);
  });

  test('the CSV2 default is used when it exists', () => {
    const fallback = file(CSV2, 'default.yaml');
    expect(credentialsPath({ configured: null, defaultFile: fallback })).toBe(fallback);
    expect(DEFAULT_CREDENTIALS_FILE).toBe('/etc/cloudscheduler/cloudscheduler.yaml');
  });

  test('without any, the error says to pass --db-config or set db_config', () => {
    const err = failure(() => credentialsPath({ configured: null, defaultFile: join(tmp, 'absent.yaml') }));
    expect(err.message).toContain('--db-config');
    expect(err.message).toContain('db_config');
    expect(err.message).toContain(join(tmp, 'absent.yaml'));
  });

  (existsSync(DEFAULT_CREDENTIALS_FILE) ? test.skip : test)('loadCredentials with nothing configured fails when the default is absent', () => {
    expect(failure(() => loadCredentials({ configured: null })).message).toContain(DEFAULT_CREDENTIALS_FILE);
  });
});
