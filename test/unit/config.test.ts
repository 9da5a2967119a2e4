/** schema_backup.conf: good files, defaults, paths, warnings, line numbers, and errors collected together. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_SCHEDULE, loadConfig, parseConfigText, resolveConfigPath } from '../../src/config/load';
import { findInstallRoot, installRoot } from '../../src/config/paths';
import { parseYaml } from '../../src/config/yaml';
import type { BackupConfig } from '../../src/config/types';
import { ConfigError } from '../../src/errors';
import type { ConfigMessage } from '../../src/errors';

const ROOT = '/opt/schema_backup';
const FILE = '/etc/schema_backup/schema_backup.conf';

function parse(text: string, file = FILE): { config: BackupConfig; warnings: ConfigMessage[] } {
  return parseConfigText(text, { file, installRoot: ROOT });
}

function problemsOf(text: string): ConfigMessage[] {
  try {
    parse(text);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'sb-config-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('installRoot', () => {
  test('is the folder whose package.json is named schema_backup', () => {
    const root = installRoot();
    expect(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).name).toBe('schema_backup');
    expect(root).toBe(resolve(__dirname, '..', '..'));
  });

  test('is found from any depth below it (as from dist/src/config)', () => {
    expect(findInstallRoot(join(installRoot(), 'dist', 'src', 'config'))).toBe(installRoot());
  });

  test('skips package.json files of other packages on the way up', () => {
    const nested = join(tmp, 'outer', 'node_modules', 'inner');
    mkdirSync(nested, { recursive: true });
    writeFileSync(join(tmp, 'outer', 'package.json'), JSON.stringify({ name: 'schema_backup' }));
    writeFileSync(join(nested, 'package.json'), JSON.stringify({ name: 'something-else' }));
    expect(findInstallRoot(nested)).toBe(join(tmp, 'outer'));
  });

  test('throws when there is no such folder', () => {
    expect(() => findInstallRoot('/proc/self')).toThrow(/cannot find the schema_backup install root/);
  });
});

describe('resolveConfigPath', () => {
  test('--config wins over the environment and the default', () => {
    expect(resolveConfigPath({ cliPath: '/a/b.conf', env: { SCHEMA_BACKUP_CONF: '/c/d.conf' }, installRoot: ROOT })).toBe('/a/b.conf');
  });
  test('a relative --config is taken from the current directory', () => {
    expect(resolveConfigPath({ cliPath: 'x.conf', env: {}, installRoot: ROOT })).toBe(join(process.cwd(), 'x.conf'));
  });
  test('$SCHEMA_BACKUP_CONF comes next', () => {
    expect(resolveConfigPath({ env: { SCHEMA_BACKUP_CONF: '/c/d.conf' }, installRoot: ROOT })).toBe('/c/d.conf');
  });
  test('then etc/schema_backup.conf in the install root', () => {
    expect(resolveConfigPath({ env: {}, installRoot: ROOT })).toBe('/opt/schema_backup/etc/schema_backup.conf');
    expect(resolveConfigPath({ env: { SCHEMA_BACKUP_CONF: '' }, installRoot: ROOT })).toBe('/opt/schema_backup/etc/schema_backup.conf');
  });
});

describe('the shipped etc/schema_backup.conf', () => {
  const path = join(installRoot(), 'etc', 'schema_backup.conf');

  test('loads without errors, in the CSV2 shape', () => {
    const { config, warnings } = loadConfig(path, { installRoot: installRoot() });
    expect(config.file).toBe(path);
    expect(config.csv2BackupDir).toBe(join(installRoot(), 'schema', 'schema_backup'));
    expect(config.providers).toEqual(['mariadb']);
    expect(config.consumers).toContain('csv2-main');
    expect(config.classes.global.map((t) => t.name)).toContain('csv2_configuration');
    expect(config.classes.local.map((t) => t.name)).toEqual(expect.arrayContaining(['csv2_groups', 'csv2_user', 'csv2_clouds', 'csv2_user_groups']));
    expect(config.classes.ephemeral.map((t) => t.name)).toEqual(expect.arrayContaining(['condor_jobs', 'condor_machines']));
    expect(config.classes.ignore.map((t) => t.name)).toContain('django_session');
    expect(config.pauseInterval).toBe(1);
    // Its only warning is the one about local rows, since user_data_backup_dir is commented out.
    expect(warnings.map((w) => w.key)).toEqual(['user_data_backup_dir']);
  });

  test('every listed table carries the line it is on', () => {
    const lines = readFileSync(path, 'utf8').split('\n');
    const { config } = loadConfig(path, { installRoot: installRoot() });
    const all = [...config.classes.global, ...config.classes.local, ...config.classes.ephemeral, ...config.classes.ignore];
    expect(all.length).toBeGreaterThan(40);
    for (const t of all) expect(lines[t.line - 1]).toBe(`  - ${t.name}`);
  });

  test('documents every optional key it does not set', () => {
    const text = readFileSync(path, 'utf8');
    for (const key of ['quiesce', 'db_config', 'schedule', 'state_dir', 'status_file', 'metrics_file', 'user_data_retention', 'user_data_compress', 'systemctl_timeout', 'verify_after_backup', 'user_data_backup_dir']) {
      expect(text).toMatch(new RegExp(`^#${key}:`, 'm'));
    }
    expect(text).toMatch(/Relative paths/);
  });
});

describe('defaults', () => {
  test('a file with one class gets every default', () => {
    const { config, warnings } = parse('global: [csv2_configuration]\n');
    expect(config).toEqual<BackupConfig>({
      file: FILE,
      csv2BackupDir: '/opt/schema_backup/schema/schema_backup',
      userDataBackupDir: null,
      providers: [],
      consumers: [],
      classes: { global: [{ name: 'csv2_configuration', line: 1 }], local: [], ephemeral: [], ignore: [] },
      quiesce: 'stop',
      pauseInterval: 1,
      dbConfig: null,
      schedule: '0 3 * * *',
      stateDir: '/var/lib/schema_backup',
      statusFile: '/var/lib/schema_backup/status.json',
      metricsFile: null,
      retention: null,
      compress: 'none',
      systemctlTimeout: 90,
      verifyAfterBackup: false,
      verifyDatabase: null,
      api: null,
    });
    expect(DEFAULT_SCHEDULE).toBe('0 3 * * *');
    expect(warnings).toEqual([
      { file: FILE, key: 'user_data_backup_dir', message: "user_data_backup_dir is not set: local tables' rows will not be backed up" },
    ]);
  });

  test.each([['csv2_backup_dir: default'], ['csv2_backup_dir:'], ['csv2_backup_dir: null'], ['csv2_backup_dir: ~']])(
    '%s means <install root>/schema/schema_backup',
    (line) => {
      expect(parse(`${line}\nglobal: [a]\n`).config.csv2BackupDir).toBe('/opt/schema_backup/schema/schema_backup');
    },
  );

  test('an explicit null user_data_backup_dir also warns, with its line', () => {
    const { config, warnings } = parse('global: [a]\nuser_data_backup_dir: ~\n');
    expect(config.userDataBackupDir).toBeNull();
    expect(warnings).toEqual([expect.objectContaining({ line: 2, key: 'user_data_backup_dir' })]);
  });

  test('status_file follows state_dir', () => {
    expect(parse('global: [a]\nstate_dir: /srv/sb\n').config.statusFile).toBe('/srv/sb/status.json');
  });

  test('empty class keys mean empty lists', () => {
    const { config } = parse('global:\nlocal: []\nephemeral: ~\nignore:\n');
    expect(config.classes).toEqual({ global: [], local: [], ephemeral: [], ignore: [] });
  });
});

describe('every key', () => {
  const text = [
    'csv2_backup_dir: /srv/backup/schema', // 1
    'user_data_backup_dir: /srv/backup/user', // 2
    'providers: [mariadb, mysqld.service]', // 3
    'consumers:', // 4
    '  - csv2-main', // 5
    '  - csv2-status-poller@1', // 6
    'global: [csv2_configuration, csv2_cloud_types]', // 7
    'local: [csv2_user]', // 8
    'ephemeral: [condor_jobs]', // 9
    'ignore: [django_session]', // 10
    'pause_interval: 2.5', // 11
    'db_config: /etc/cloudscheduler/cloudscheduler.yaml', // 12
    "schedule: '30 0 4 * * 1-5'", // 13
    'state_dir: /run/sb', // 14
    'status_file: /run/sb/state.json', // 15
    'metrics_file: /var/lib/node_exporter/sb.prom', // 16
    'user_data_retention: {keep: 14, days: 30.5}', // 17
    'user_data_compress: gzip', // 18
    'systemctl_timeout: 120', // 19
    'verify_after_backup: true', // 20
    'quiesce: pause-flag', // 21
  ].join('\n');

  test('are all read', () => {
    const { config, warnings } = parse(text);
    expect(warnings).toEqual([]);
    expect(config).toEqual<BackupConfig>({
      file: FILE,
      csv2BackupDir: '/srv/backup/schema',
      userDataBackupDir: '/srv/backup/user',
      providers: ['mariadb', 'mysqld.service'],
      consumers: ['csv2-main', 'csv2-status-poller@1'],
      classes: {
        global: [
          { name: 'csv2_configuration', line: 7 },
          { name: 'csv2_cloud_types', line: 7 },
        ],
        local: [{ name: 'csv2_user', line: 8 }],
        ephemeral: [{ name: 'condor_jobs', line: 9 }],
        ignore: [{ name: 'django_session', line: 10 }],
      },
      quiesce: 'pause-flag',
      pauseInterval: 2.5,
      dbConfig: '/etc/cloudscheduler/cloudscheduler.yaml',
      schedule: '30 0 4 * * 1-5',
      stateDir: '/run/sb',
      statusFile: '/run/sb/state.json',
      metricsFile: '/var/lib/node_exporter/sb.prom',
      retention: { keep: 14, maxAgeDays: 30.5 },
      compress: 'gzip',
      systemctlTimeout: 120,
      verifyAfterBackup: true,
      verifyDatabase: null,
      api: null,
    });
  });

  test('retention may give only keep, or only days', () => {
    expect(parse('global: [a]\nuser_data_retention:\n  keep: 3\n').config.retention).toEqual({ keep: 3, maxAgeDays: null });
    expect(parse('global: [a]\nuser_data_retention:\n  days: 7\n').config.retention).toEqual({ keep: null, maxAgeDays: 7 });
  });

  test.each([['quiesce: stop', 'stop'], ['quiesce: pause-flag', 'pause-flag'], ["quiesce: 'pause-flag'", 'pause-flag'], ['quiesce:', 'stop']])('%s', (line, method) => {
    expect(parse(`global: [a]\n${line}\n`).config.quiesce).toBe(method);
  });

  test('pause_interval may be 0', () => {
    expect(parse('global: [a]\npause_interval: 0\n').config.pauseInterval).toBe(0);
  });

  test.each(['0 3 * * *', '*/15 * * * *', '0 0 3 * * *', '0 22 * * 1-5'])('schedule %s is accepted', (expr) => {
    expect(parse(`global: [a]\nschedule: '${expr}'\n`).config.schedule).toBe(expr);
  });
});

describe('relative paths', () => {
  test('are taken from the directory of the configuration file', () => {
    const etc = join(tmp, 'site', 'etc');
    mkdirSync(etc, { recursive: true });
    const file = join(etc, 'schema_backup.conf');
    writeFileSync(
      file,
      [
        'csv2_backup_dir: ../backup/schema',
        'user_data_backup_dir: user-data',
        'db_config: ./db.cnf',
        'state_dir: ../state',
        'status_file: status/now.json',
        'metrics_file: ../metrics/sb.prom',
        'global: [a]',
      ].join('\n'),
    );
    const { config } = loadConfig(file, { installRoot: ROOT });
    expect(config.csv2BackupDir).toBe(join(tmp, 'site', 'backup', 'schema'));
    expect(config.userDataBackupDir).toBe(join(etc, 'user-data'));
    expect(config.dbConfig).toBe(join(etc, 'db.cnf'));
    expect(config.stateDir).toBe(join(tmp, 'site', 'state'));
    expect(config.statusFile).toBe(join(etc, 'status', 'now.json'));
    expect(config.metricsFile).toBe(join(tmp, 'site', 'metrics', 'sb.prom'));
  });

  test('a relative config path is made absolute first', () => {
    const cwd = process.cwd();
    try {
      process.chdir(tmp);
      writeFileSync(join(tmp, 'rel.conf'), 'global: [a]\nstate_dir: st\n');
      const { config } = loadConfig('rel.conf', { installRoot: ROOT });
      expect(config.file).toBe(join(tmp, 'rel.conf'));
      expect(config.stateDir).toBe(join(tmp, 'st'));
    } finally {
      process.chdir(cwd);
    }
  });
});

describe('table names', () => {
  test('may hold spaces inside, unicode, reserved words, 64 characters, and quoted numbers or booleans', () => {
    const long = 'x'.repeat(64);
    const { config } = parse(
      ['global:', "  - 'order details'", '  - café_ünïcødé', '  - 表', '  - select', '  - order', `  - ${long}`, "  - '123'", '  - "yes"', "  - 'null'", '  - !!str 42', "  - ' leading'"].join('\n'),
    );
    expect(config.classes.global.map((t) => t.name)).toEqual(['order details', 'café_ünïcødé', '表', 'select', 'order', long, '123', 'yes', 'null', '42', ' leading']);
  });

  test('64 multi-byte characters are still 64 characters', () => {
    expect(parse(`global: ['${'é'.repeat(64)}']\n`).config.classes.global).toHaveLength(1);
    expect(problemsOf(`global: ['${'é'.repeat(65)}']\n`)[0]?.message).toContain('65 characters long');
  });

  test('an error names the file, the line, the item and the name', () => {
    const problems = problemsOf('global:\n  - fine\n  - "bad`name"\n');
    expect(problems).toEqual([{ file: FILE, line: 3, key: 'global[1]', message: expect.stringContaining('"bad`name"') }]);
    expect(new ConfigError(problems).message).toMatch(/^\/etc\/schema_backup\/schema_backup\.conf:3: global\[1\]: "bad`name": table name contains a backtick/);
  });

  test('a table listed twice in one class is a warning, kept once', () => {
    const { config, warnings } = parse('global:\n  - a\n  - b\n  - a\nuser_data_backup_dir: /x\n');
    expect(config.classes.global).toEqual([
      { name: 'a', line: 2 },
      { name: 'b', line: 3 },
    ]);
    expect(warnings).toEqual([{ file: FILE, line: 4, key: 'global[2]', message: 'table "a" is listed twice in global (also at line 2): remove one' }]);
  });

  test('a table in two classes is kept in both, for the planner to judge', () => {
    const { config } = parse('global: [a]\nlocal:\n  - a\n');
    expect(config.classes.global).toEqual([{ name: 'a', line: 1 }]);
    expect(config.classes.local).toEqual([{ name: 'a', line: 3 }]);
  });

  test('a comment between list items continues the list', () => {
    const text = ['ephemeral:', '  - condor_jobs', '# Obsolete?', '  - condor_machines', '  # indented comment', '', '  - csv2_vms', 'ignore: [x]'].join('\n');
    const { config } = parse(text);
    expect(config.classes.ephemeral).toEqual([
      { name: 'condor_jobs', line: 2 },
      { name: 'condor_machines', line: 4 },
      { name: 'csv2_vms', line: 7 },
    ]);
    expect(config.classes.ignore).toEqual([{ name: 'x', line: 8 }]);
  });

  test('flow lists over several lines keep each line', () => {
    const { config } = parse('local: [a,\n  b,\n\n  c]\n');
    expect(config.classes.local.map((t) => t.line)).toEqual([1, 2, 4]);
  });
});

describe('warnings', () => {
  test('an unknown key is named with its line, and a near miss is suggested', () => {
    const { warnings } = parse('global: [a]\nuser_data_backup_dir: /x\nconsumer: [csv2-main]\nfrobnicate: 3\n');
    expect(warnings).toEqual([
      { file: FILE, line: 3, key: 'consumer', message: 'unknown parameter, ignored (did you mean `consumers`?)' },
      { file: FILE, line: 4, key: 'frobnicate', message: 'unknown parameter, ignored' },
    ]);
  });

  test('an unknown key inside user_data_retention is a warning', () => {
    const { config, warnings } = parse('global: [a]\nuser_data_backup_dir: /x\nuser_data_retention:\n  keep: 2\n  weeks: 3\n');
    expect(config.retention).toEqual({ keep: 2, maxAgeDays: null });
    expect(warnings).toEqual([expect.objectContaining({ line: 5, key: 'user_data_retention.weeks' })]);
  });

  test('a service listed twice is a warning, kept once', () => {
    const { config, warnings } = parse('global: [a]\nuser_data_backup_dir: /x\nconsumers: [csv2-main, csv2-main]\n');
    expect(config.consumers).toEqual(['csv2-main']);
    expect(warnings).toEqual([expect.objectContaining({ line: 3, key: 'consumers[1]' })]);
  });
});

describe('errors', () => {
  test('are all collected, in line order, each with file, line and key', () => {
    const problems = problemsOf(
      ['global: csv2_user', 'local:', '  - 123', '  - ok', 'pause_interval: -2', "schedule: '99 * * * *'", 'user_data_compress: xz', 'consumers: [-x]', 'unknown_key: 1'].join('\n'),
    );
    expect(problems.map((p) => [p.line, p.key])).toEqual([
      [1, 'global'],
      [3, 'local[0]'],
      [5, 'pause_interval'],
      [6, 'schedule'],
      [7, 'user_data_compress'],
      [8, 'consumers[0]'],
    ]);
    for (const p of problems) expect(p.file).toBe(FILE);
  });

  test.each([
    ['quiesce: pause', 'not the text "pause"'],
    ['quiesce: Pause-Flag', 'not the text "Pause-Flag"'],
    ['quiesce: true', 'not the boolean `true`'],
    ['quiesce: [stop]', 'not a list'],
  ])('a bad quiesce value (%s) names the file, the line and both accepted values', (line, got) => {
    const problems = problemsOf(`global: [a]\n\n${line}\n`);
    expect(problems).toEqual([
      {
        file: FILE,
        line: 3,
        key: 'quiesce',
        message: `expected \`stop\` (stop and start the consumers) or \`pause-flag\` (set CSV2's ProcessMonitor pause flag in csv2_configuration), ${got}`,
      },
    ]);
  });

  test('messages say what to do', () => {
    const [p] = problemsOf('global: csv2_user\n');
    expect(p?.message).toBe('expected a list of table names, e.g. `global: [table_a, table_b]`, not the text "csv2_user"');
  });

  test('a YAML syntax error carries its line', () => {
    const problems = problemsOf('global:\n  - a\n  - [b\nlocal: [c]\n');
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toMatch(/^YAML syntax error/);
    expect(problems[0]?.line).toBeGreaterThanOrEqual(3);
  });

  test('tabs used for indentation are named as such', () => {
    const [p] = problemsOf('global:\n\t- a\n');
    expect(p).toEqual({ file: FILE, line: 2, message: expect.stringContaining('YAML forbids tabs for indentation') });
  });

  test('a tab between tokens is fine (it is not indentation)', () => {
    const { config } = parse('global: [a]\t# trailing tab\npause_interval:\t2\n');
    expect(config.classes.global).toEqual([{ name: 'a', line: 1 }]);
    expect(config.pauseInterval).toBe(2);
  });

  test('YAML 1.2 `yes` is still refused for booleans', () => {
    expect(problemsOf('global: [a]\nverify_after_backup: yes\n')[0]?.message).toContain('expected true or false');
  });

  test('a duplicate key names both lines', () => {
    expect(problemsOf('global: [a]\nlocal: [b]\nglobal: [c]\n')).toEqual([
      { file: FILE, line: 3, key: 'global', message: 'duplicate key (first given at line 1): give each key once, e.g. merge the two lists' },
    ]);
  });
});

describe('file formats', () => {
  test('CRLF line ends and a byte-order mark are accepted', () => {
    const file = join(tmp, 'crlf.conf');
    writeFileSync(file, '\uFEFFglobal:\r\n  - a\r\n  - b\r\n');
    expect(loadConfig(file, { installRoot: ROOT }).config.classes.global).toEqual([
      { name: 'a', line: 2 },
      { name: 'b', line: 3 },
    ]);
  });
});

describe('parseYaml', () => {
  test('gives lines to keys, list items and empty items', () => {
    const { root, problems } = parseYaml('a:\nb:\n  - x\n  -\n  # c\n  - y\n', 'f');
    expect(problems).toEqual([]);
    expect(root).toEqual({
      kind: 'map',
      line: 1,
      entries: [
        { key: 'a', line: 1, value: { kind: 'scalar', line: 1, value: null, text: '', plain: true } },
        {
          key: 'b',
          line: 2,
          value: {
            kind: 'list',
            line: 3,
            items: [
              { kind: 'scalar', line: 3, value: 'x', text: 'x', plain: true },
              { kind: 'scalar', line: 4, value: null, text: '', plain: true },
              { kind: 'scalar', line: 6, value: 'y', text: 'y', plain: true },
            ],
          },
        },
      ],
    });
  });

  test('keeps YAML 1.2 types and quoting', () => {
    const { root } = parseYaml('- 12\n- "12"\n- true\n- yes\n- 0x1f\n', 'f');
    expect(root?.kind === 'list' && root.items.map((n) => (n.kind === 'scalar' ? [n.value, n.plain] : null))).toEqual([
      [12, true],
      ['12', false],
      [true, true],
      ['yes', true],
      [31, true],
    ]);
  });
});
