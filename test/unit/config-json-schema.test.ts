/**
 * schema/schema_backup.conf.schema.json (for editors) against the validator
 * (src/config/validate.ts), which is what schema_backup really accepts: the
 * same keys, the same defaults, the same rules for table and service names.
 * ajv runs the schema itself on the shipped example and on documents the
 * validator refuses.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { load } from 'js-yaml';
import { DEFAULT_CREDENTIALS_FILE } from '../../src/config/credentials';
import {
  DEFAULT_PAUSE_INTERVAL,
  DEFAULT_SCHEDULE,
  DEFAULT_STATE_DIR,
  DEFAULT_SYSTEMCTL_TIMEOUT,
  MAX_TABLE_NAME_LENGTH,
  STATUS_FILE_NAME,
} from '../../src/config/defaults';
import { serviceNameProblem, tableNameProblem } from '../../src/config/names';
import { installRoot } from '../../src/config/paths';
import { KNOWN_KEYS } from '../../src/config/validate';
import { renderConfigKeysTable, withConfigKeysTable } from '../../scripts/config-keys';

interface PropertySchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  pattern?: string;
  maxLength?: number;
  not?: { enum?: unknown[] };
}

const schema = JSON.parse(readFileSync(join(installRoot(), 'schema', 'schema_backup.conf.schema.json'), 'utf8')) as {
  $schema: string;
  additionalProperties: boolean;
  properties: Record<string, PropertySchema>;
  definitions: Record<'tableName' | 'serviceName', PropertySchema>;
};

/** Keys in the schema that the validator does not know yet (none today). */
const PENDING_KEYS: readonly string[] = [];

describe('schema/schema_backup.conf.schema.json', () => {
  test('is a draft-07 schema that flags unknown keys', () => {
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema.additionalProperties).toBe(false);
  });

  test('has every key the validator knows, and no other (but the pending ones)', () => {
    const expected = [...new Set<string>([...KNOWN_KEYS, ...PENDING_KEYS])].sort();
    expect(Object.keys(schema.properties).sort()).toEqual(expected);
  });

  test('every key has a type and a description', () => {
    for (const [key, property] of Object.entries(schema.properties)) {
      expect({ key, type: property.type !== undefined, description: (property.description ?? '').length > 20 }).toEqual({
        key,
        type: true,
        description: true,
      });
    }
  });

  test('its defaults are the code defaults', () => {
    const defaults = Object.fromEntries(Object.entries(schema.properties).map(([k, p]) => [k, p.default]));
    expect(defaults).toMatchObject({
      csv2_backup_dir: 'default',
      pause_interval: DEFAULT_PAUSE_INTERVAL,
      schedule: DEFAULT_SCHEDULE,
      state_dir: DEFAULT_STATE_DIR,
      status_file: join(DEFAULT_STATE_DIR, STATUS_FILE_NAME),
      db_config: DEFAULT_CREDENTIALS_FILE,
      systemctl_timeout: DEFAULT_SYSTEMCTL_TIMEOUT,
      user_data_compress: 'none',
      verify_after_backup: false,
      quiesce: 'stop',
    });
  });

  test('the shipped etc/schema_backup.conf uses only keys of the schema', () => {
    const doc = load(readFileSync(join(installRoot(), 'etc', 'schema_backup.conf'), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(doc).length).toBeGreaterThan(5);
    for (const key of Object.keys(doc)) expect({ key, known: key in schema.properties }).toEqual({ key, known: true });
  });

  test("the README's key table is the one rendered from the schema (npm run docs:config)", () => {
    const readme = readFileSync(join(installRoot(), 'README.md'), 'utf8');
    expect(withConfigKeysTable(readme, renderConfigKeysTable(schema))).toBe(readme);
    for (const key of KNOWN_KEYS) expect(readme).toContain(`| \`${key}\` |`);
  });

  test('the example etc/schema_backup.conf shows every key (set or commented out)', () => {
    const text = readFileSync(join(installRoot(), 'etc', 'schema_backup.conf'), 'utf8');
    for (const key of KNOWN_KEYS) expect({ key, shown: new RegExp(`^#?${key}:`, 'm').test(text) }).toEqual({ key, shown: true });
  });

  const validate = new Ajv({ allErrors: true, strict: false, unicodeRegExp: true }).compile(schema);

  test('the shipped etc/schema_backup.conf validates against it', () => {
    const doc = load(readFileSync(join(installRoot(), 'etc', 'schema_backup.conf'), 'utf8'));
    expect({ valid: validate(doc), errors: validate.errors ?? null }).toEqual({ valid: true, errors: null });
  });

  test.each([
    ['a wrong type', { pause_interval: 'ten' }],
    ['an unknown quiesce method', { quiesce: 'freeze' }],
    ['a table name with a slash', { local: ['a/b'] }],
    ['an unknown key', { csv2_backup_dirr: '/x' }],
  ])('it refuses %s (the validator refuses the first three and warns about the last)', (_label, doc) => {
    expect(validate(doc)).toBe(false);
  });

  // The patterns are what an editor checks; names.ts is what schema_backup checks. They must agree.
  const TABLE_NAMES = [
    'csv2_user', 'a', 'condor_jobs', 'é_table', 'with space', '.hidden', 'a.b', 'x'.repeat(MAX_TABLE_NAME_LENGTH),
    'x'.repeat(MAX_TABLE_NAME_LENGTH + 1), '', ' ', 'trailing ', 'a/b', '../etc', 'a\\b', 'back`tick', "it's", 'say"hi"',
    'tab\there', 'nl\n', 'nul\u0000', 'c1\u0085', '.', '..', 'del\u007f',
  ];
  test.each(TABLE_NAMES.map((n) => [JSON.stringify(n), n]))('table name %s: the schema and the validator agree', (_label, name) => {
    const def = schema.definitions.tableName;
    const bySchema =
      name.length > 0 && [...name].length <= (def.maxLength ?? 0) && new RegExp(def.pattern ?? '', 'u').test(name) && !(def.not?.enum ?? []).includes(name);
    expect(bySchema).toBe(tableNameProblem(name) === null);
  });

  const SERVICE_NAMES = ['csv2-main', 'mariadb.service', 'getty@tty1', 'a:b_c', '-rf', 'a b', 'a/b', 'a;b', '', 'x'.repeat(256), 'x'.repeat(257)];
  test.each(SERVICE_NAMES.map((n) => [JSON.stringify(n), n]))('service name %s: the schema and the validator agree', (_label, name) => {
    const def = schema.definitions.serviceName;
    const bySchema = name.length > 0 && name.length <= (def.maxLength ?? 0) && new RegExp(def.pattern ?? '', 'u').test(name);
    expect(bySchema).toBe(serviceNameProblem(name) === null);
  });
});
