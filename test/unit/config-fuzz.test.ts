/**
 * Property test: mutated configuration and credentials files (seeded, so any
 * failure replays) either load or fail with a ConfigError. Never another
 * exception, never a hang, and a credentials error never shows the password.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCredentials } from '../../src/config/credentials';
import { loadConfig } from '../../src/config/load';
import { serviceNameProblem, tableNameProblem } from '../../src/config/names';
import { installRoot } from '../../src/config/paths';
import { TABLE_CLASSES } from '../../src/domain/table-class';
import { ConfigError } from '../../src/errors';
import { prng } from '../helpers/prng';

// Override to search further: FUZZ_SEED=7 FUZZ_CASES=20000 npx jest test/unit/config-fuzz.test.ts
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed2024);
const CONFIG_CASES = Number(process.env.FUZZ_CASES ?? 600);
const CREDENTIAL_CASES = Math.ceil(CONFIG_CASES / 2);
const SECRET = 'Pw_zq81!Xk';


const SNIPPETS = ['\t', '&a ', '*a', '[', ']', '{', '}', ': ', '- ', '- 123', '!!int ', '"', "'", '\u0000', '---\n', '? ', '|\n', '>-\n', '#', '`', '../', '\\', '\u00e9', '\ud83d\ude00', '  ', '\n', '<<: *a\n', '%YAML 1.2\n'];
const VALUES = ['[x]', '{a: 1}', '123', 'yes', '~', "''", '"str"', '-1', '.nan', '.inf', "'0 3 * * *'", '[1, 2]', 'default', 'gzip', 'true', '2001-01-01', '{keep: 0}', '[-x]', '"a\\0b"', '&a [1]', '*a'];

function mutate(input: Buffer, rnd: () => number): Buffer {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  let buf = input;
  const rounds = 1 + Math.floor(rnd() * 4);
  for (let r = 0; r < rounds; r++) {
    const pos = Math.floor(rnd() * (buf.length + 1));
    switch (Math.floor(rnd() * 7)) {
      case 0: {
        // Flip one byte to anything, including invalid UTF-8.
        if (buf.length === 0) break;
        const copy = Buffer.from(buf);
        copy[Math.min(pos, buf.length - 1)] = Math.floor(rnd() * 256);
        buf = copy;
        break;
      }
      case 1: {
        const len = Math.floor(rnd() * 40);
        buf = Buffer.concat([buf.subarray(0, pos), buf.subarray(pos + len)]);
        break;
      }
      case 2:
        buf = Buffer.concat([buf.subarray(0, pos), Buffer.from(pick(SNIPPETS)), buf.subarray(pos)]);
        break;
      case 3: {
        // Swap a value for one of another type.
        const lines = buf.toString('utf8').split('\n');
        const i = Math.floor(rnd() * lines.length);
        const m = /^(\s*[\w-]+:)\s*(.*)$/.exec(lines[i] ?? '');
        if (m) lines[i] = `${m[1]} ${pick(VALUES)}`;
        else lines[i] = `  - ${pick(VALUES)}`;
        buf = Buffer.from(lines.join('\n'));
        break;
      }
      case 4: {
        const lines = buf.toString('utf8').split('\n');
        const i = Math.floor(rnd() * lines.length);
        const j = Math.floor(rnd() * lines.length);
        lines.splice(j, 0, lines[i] ?? '');
        buf = Buffer.from(lines.join('\n'));
        break;
      }
      case 5: {
        // Shift one line's indentation.
        const lines = buf.toString('utf8').split('\n');
        const i = Math.floor(rnd() * lines.length);
        lines[i] = rnd() < 0.5 ? ` ${lines[i] ?? ''}` : (lines[i] ?? '').replace(/^ /, '');
        buf = Buffer.from(lines.join('\n'));
        break;
      }
      default:
        buf = buf.subarray(0, pos);
    }
  }
  return buf;
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'sb-fuzz-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

test(`${CONFIG_CASES} mutated configuration files load or fail with a ConfigError`, () => {
  const seeds = [
    readFileSync(join(installRoot(), 'etc', 'schema_backup.conf')),
    Buffer.from(
      [
        'csv2_backup_dir: default',
        'user_data_backup_dir: ../user',
        'providers: [mariadb]',
        'consumers:\n  - csv2-main\n  # comment\n  - csv2-jobs',
        'global: [a, b]',
        'local:\n  - c\n  - "d e"',
        'ephemeral: [f]',
        'ignore: []',
        'pause_interval: 1',
        'db_config: db.cnf',
        "schedule: '0 3 * * *'",
        'state_dir: state',
        'user_data_retention: {keep: 3, days: 10}',
        'user_data_compress: gzip',
        'systemctl_timeout: 90',
        'verify_after_backup: true',
      ].join('\n'),
    ),
  ];
  const rnd = prng(SEED);
  const path = join(tmp, 'fuzz.conf');
  const outcome = { loaded: 0, refused: 0 };
  for (let i = 0; i < CONFIG_CASES; i++) {
    const data = mutate(seeds[i % seeds.length] as Buffer, rnd);
    writeFileSync(path, data);
    const started = Date.now();
    try {
      const { config } = loadConfig(path, { installRoot: '/opt/sb' });
      outcome.loaded++;
      // What loads must obey the rules.
      const lineCount = data.toString('utf8').split('\n').length;
      for (const cls of TABLE_CLASSES) {
        for (const t of config.classes[cls]) {
          expect(tableNameProblem(t.name)).toBeNull();
          expect(t.line).toBeGreaterThanOrEqual(1);
          expect(t.line).toBeLessThanOrEqual(lineCount);
        }
      }
      for (const s of [...config.providers, ...config.consumers]) expect(serviceNameProblem(s)).toBeNull();
      expect(config.pauseInterval).toBeGreaterThanOrEqual(0);
      expect(config.systemctlTimeout).toBeGreaterThan(0);
    } catch (err) {
      if (!(err instanceof ConfigError)) {
        throw new Error(`case ${i}: ${String(err)}\n--- input (base64) ---\n${data.toString('base64')}`);
      }
      expect(err.problems.length).toBeGreaterThan(0);
      expect(err.message).toContain(path);
      outcome.refused++;
    }
    expect(Date.now() - started).toBeLessThan(2000);
  }
  // The mutations must exercise both outcomes, or the test proves little.
  expect(outcome.loaded).toBeGreaterThan(20);
  expect(outcome.refused).toBeGreaterThan(100);
});

test(`${CREDENTIAL_CASES} mutated credentials files never leak the password`, () => {
  const seeds = [
    Buffer.from(`general:\n  x: 1\ndatabase:\n  db_host: h\n  db_port: 3306\n  db_user: u\n  db_password: "${SECRET}"\n  db_name: d\n`),
    Buffer.from(`# c\n[mysqld]\nport=1\n[client]\nhost = h\nport=3306\nuser=u\npassword='${SECRET}'\ndatabase=d\n`),
  ];
  const rnd = prng(SEED + 1);
  const path = join(tmp, 'fuzz.cred');
  let refused = 0;
  for (let i = 0; i < CREDENTIAL_CASES; i++) {
    const data = mutate(seeds[i % seeds.length] as Buffer, rnd);
    writeFileSync(path, data);
    try {
      const creds = loadCredentials({ cliPath: path, configured: null });
      expect(creds.user.length).toBeGreaterThan(0);
      expect(creds.port).toBeGreaterThanOrEqual(1);
    } catch (err) {
      if (!(err instanceof ConfigError)) {
        throw new Error(`case ${i}: ${String(err)}\n--- input (base64) ---\n${data.toString('base64')}`);
      }
      refused++;
      if (err.message.includes(SECRET)) {
        throw new Error(`case ${i} leaked the password: ${err.message}\n--- input (base64) ---\n${data.toString('base64')}`);
      }
    }
  }
  expect(refused).toBeGreaterThan(20);
});
