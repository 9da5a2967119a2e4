/**
 * Raw YAML tree -> BackupConfig, plus every error and warning found. Pure:
 * paths are resolved as strings, nothing is read from disk.
 */
import { join, resolve } from 'node:path';
import type { ConfigMessage } from '../errors';
import { nodeCron } from './cron';
import {
  DEFAULT_CSV2_BACKUP_SUBDIR,
  DEFAULT_PAUSE_INTERVAL,
  DEFAULT_QUIESCE,
  DEFAULT_SCHEDULE,
  DEFAULT_STATE_DIR,
  DEFAULT_SYSTEMCTL_TIMEOUT,
  STATUS_FILE_NAME,
} from './defaults';
import { describeListen, parseListen } from './api-listen';
import { serviceNameProblem, tableNameProblem } from './names';
import { TABLE_CLASSES, type TableClass } from '../domain/table-class';
import { QUIESCE_METHODS } from './types';
import type { ApiConfig, BackupConfig, ListedTable, QuiesceMethod, RetentionPolicy } from './types';
import { yaml11TypeOf } from './yaml';
import type { RawMap, RawNode } from './yaml';

export interface ValidateOptions {
  /** Absolute path of the file, for messages and BackupConfig.file. */
  file: string;
  /** Relative paths in the file are resolved against this (the file's directory). */
  baseDir: string;
  installRoot: string;
}

export interface Validation {
  /** null when there are errors. */
  config: BackupConfig | null;
  errors: ConfigMessage[];
  warnings: ConfigMessage[];
}

export const KNOWN_KEYS = [
  'csv2_backup_dir',
  'user_data_backup_dir',
  'providers',
  'consumers',
  ...TABLE_CLASSES,
  'quiesce',
  'pause_interval',
  'db_config',
  'schedule',
  'state_dir',
  'status_file',
  'metrics_file',
  'user_data_retention',
  'user_data_compress',
  'systemctl_timeout',
  'verify_after_backup',
  'verify_database',
  'api',
] as const;

/** setTimeout overflows past 2^31-1 ms (about 24.8 days) and then fires at once; a day is plenty. */
const MAX_SECONDS = 86400;

export function validateConfig(root: RawNode | null, opts: ValidateOptions): Validation {
  const v = new Validator(opts);
  return v.run(root);
}

class Validator {
  private readonly errors: ConfigMessage[] = [];
  private readonly warnings: ConfigMessage[] = [];

  constructor(private readonly opts: ValidateOptions) {}

  run(root: RawNode | null): Validation {
    const { file } = this.opts;
    if (root === null || (root.kind === 'scalar' && root.value === null)) {
      this.errors.push({
        file,
        message: 'configuration is empty: list at least the table classes, e.g. `global: [csv2_configuration]` (see etc/schema_backup.conf)',
      });
      return this.result(null);
    }
    if (root.kind === 'invalid') return this.result(null);
    if (root.kind !== 'map') {
      this.errors.push({
        file,
        line: root.line,
        message: `the top level must be a mapping of \`key: value\` lines (e.g. \`global: [csv2_configuration]\`), not ${describe(root)}`,
      });
      return this.result(null);
    }
    return this.result(this.build(root));
  }

  private result(config: BackupConfig | null): Validation {
    return { config: this.errors.length === 0 ? config : null, errors: this.errors, warnings: this.warnings };
  }

  private build(root: RawMap): BackupConfig {
    const known = new Set<string>(KNOWN_KEYS);
    const get = (key: string): RawNode | undefined => root.entries.find((e) => e.key === key)?.value;
    for (const entry of root.entries) {
      if (!known.has(entry.key)) {
        const hint = suggest(entry.key, KNOWN_KEYS);
        this.warnings.push({
          file: this.opts.file,
          line: entry.line,
          key: entry.key,
          message: `unknown parameter, ignored${hint ? ` (did you mean \`${hint}\`?)` : ''}`,
        });
      }
    }

    const csv2BackupDir =
      this.path('csv2_backup_dir', get('csv2_backup_dir'), { allowDefault: true }) ??
      join(this.opts.installRoot, DEFAULT_CSV2_BACKUP_SUBDIR);

    const userNode = get('user_data_backup_dir');
    const userDataBackupDir = this.path('user_data_backup_dir', userNode, { allowDefault: false });
    if (userDataBackupDir === null && (userNode === undefined || isNull(userNode))) {
      this.warnings.push({
        file: this.opts.file,
        ...(userNode ? { line: userNode.line } : {}),
        key: 'user_data_backup_dir',
        message: "user_data_backup_dir is not set: local tables' rows will not be backed up",
      });
    }

    const classes = {} as Record<TableClass, ListedTable[]>;
    for (const cls of TABLE_CLASSES) classes[cls] = this.tables(cls, get(cls));
    if (TABLE_CLASSES.every((cls) => get(cls) === undefined)) {
      // Without any class every table would be "unlisted": almost surely the wrong file.
      this.errors.push({
        file: this.opts.file,
        message: 'no table class is given (global, local, ephemeral, ignore): list the tables, e.g. `global: [csv2_configuration]`',
      });
    }

    const stateDir = this.path('state_dir', get('state_dir'), { allowDefault: false }) ?? DEFAULT_STATE_DIR;
    return {
      file: this.opts.file,
      csv2BackupDir,
      userDataBackupDir,
      providers: this.services('providers', get('providers')),
      consumers: this.services('consumers', get('consumers')),
      classes,
      quiesce: this.quiesce(get('quiesce')),
      pauseInterval: this.seconds('pause_interval', get('pause_interval'), DEFAULT_PAUSE_INTERVAL, true),
      dbConfig: this.path('db_config', get('db_config'), { allowDefault: false }),
      schedule: this.schedule(get('schedule')),
      stateDir,
      statusFile: this.path('status_file', get('status_file'), { allowDefault: false }) ?? join(stateDir, STATUS_FILE_NAME),
      metricsFile: this.path('metrics_file', get('metrics_file'), { allowDefault: false }),
      retention: this.retention(get('user_data_retention')),
      compress: this.compress(get('user_data_compress')),
      systemctlTimeout: this.seconds('systemctl_timeout', get('systemctl_timeout'), DEFAULT_SYSTEMCTL_TIMEOUT, false),
      verifyAfterBackup: this.boolean('verify_after_backup', get('verify_after_backup'), false),
      verifyDatabase: this.databaseName('verify_database', get('verify_database')),
      api: this.api(get('api')),
    };
  }

  private error(node: RawNode, key: string, message: string): void {
    this.errors.push({ file: this.opts.file, line: node.line, key, message });
  }

  private warn(node: RawNode, key: string, message: string): void {
    this.warnings.push({ file: this.opts.file, line: node.line, key, message });
  }

  /** A directory or file path; relative ones are taken from the config file's directory. */
  private path(key: string, node: RawNode | undefined, o: { allowDefault: boolean }): string | null {
    if (node === undefined || isNull(node) || node.kind === 'invalid') return null;
    const example = `e.g. \`${key}: /var/lib/schema_backup\``;
    if (node.kind !== 'scalar' || typeof node.value !== 'string') {
      this.error(node, key, `expected a path, not ${describe(node)}: ${example}`);
      return null;
    }
    const value = node.value;
    if (value === 'default') {
      if (o.allowDefault) return null;
      this.error(node, key, `\`default\` is not accepted here: give a path (${example}) or leave the key out`);
      return null;
    }
    if (value.trim() === '') {
      this.error(node, key, `empty path: give a path (${example}) or leave the key out`);
      return null;
    }
    if (/[\u0000-\u001f]/.test(value)) {
      this.error(node, key, `path ${JSON.stringify(value)} contains a control character (NUL, newline...)`);
      return null;
    }
    return resolve(this.opts.baseDir, value);
  }

  private tables(cls: TableClass, node: RawNode | undefined): ListedTable[] {
    const example = `expected a list of table names, e.g. \`${cls}: [table_a, table_b]\``;
    const out: ListedTable[] = [];
    if (node === undefined || isNull(node) || node.kind === 'invalid') return out;
    if (node.kind !== 'list') {
      this.error(node, cls, `${example}, not ${describe(node)}`);
      return out;
    }
    const seen = new Map<string, number>();
    node.items.forEach((item, i) => {
      const key = `${cls}[${i}]`;
      const name = this.nameItem(item, key, 'table name');
      if (name === null) return;
      const problem = tableNameProblem(name);
      if (problem !== null) {
        this.error(item, key, `${JSON.stringify(name)}: ${problem}`);
        return;
      }
      const first = seen.get(name);
      if (first !== undefined) {
        this.warn(item, key, `table ${JSON.stringify(name)} is listed twice in ${cls} (also at line ${first}): remove one`);
        return;
      }
      seen.set(name, item.line);
      out.push({ name, line: item.line });
    });
    return out;
  }

  private services(key: 'providers' | 'consumers', node: RawNode | undefined): string[] {
    const example = `expected a list of systemd service names, e.g. \`${key}: [${key === 'providers' ? 'mariadb' : 'csv2-main, csv2-status-poller'}]\``;
    const out: string[] = [];
    if (node === undefined || isNull(node) || node.kind === 'invalid') return out;
    if (node.kind !== 'list') {
      this.error(node, key, `${example}, not ${describe(node)}`);
      return out;
    }
    const seen = new Set<string>();
    node.items.forEach((item, i) => {
      const itemKey = `${key}[${i}]`;
      const name = this.nameItem(item, itemKey, 'service name');
      if (name === null) return;
      const problem = serviceNameProblem(name);
      if (problem !== null) {
        this.error(item, itemKey, `${JSON.stringify(name)}: ${problem}`);
        return;
      }
      if (seen.has(name)) {
        this.warn(item, itemKey, `service ${JSON.stringify(name)} is listed twice in ${key}: remove one`);
        return;
      }
      seen.add(name);
      out.push(name);
    });
    return out;
  }

  /** One list item that must be a name: YAML's typing of numbers, booleans and nulls is refused, not converted. */
  private nameItem(item: RawNode, key: string, what: string): string | null {
    if (item.kind === 'invalid') return null;
    if (item.kind !== 'scalar') {
      this.error(item, key, `expected a ${what}, not ${describe(item)}`);
      return null;
    }
    if (item.value === null) {
      this.error(item, key, item.text === ''
        ? `empty list item: remove the \`-\` or write a ${what}`
        : `YAML reads \`${item.text}\` as null, not as a ${what}: quote it, e.g. \`- '${item.text}'\``);
      return null;
    }
    if (typeof item.value !== 'string') {
      this.error(item, key, `YAML reads \`${item.text}\` as a ${typeof item.value}, not as a ${what}: quote it, e.g. \`- '${item.text}'\``);
      return null;
    }
    if (item.plain) {
      const t = yaml11TypeOf(item.text);
      if (t !== 'string') {
        this.error(item, key, `YAML 1.1 readers (such as the CSV2 tools) read \`${item.text}\` as a ${t}, not as a ${what}: quote it, e.g. \`- '${item.text}'\``);
        return null;
      }
    }
    return item.value;
  }

  private seconds(key: string, node: RawNode | undefined, fallback: number, zeroOk: boolean): number {
    if (node === undefined || isNull(node) || node.kind === 'invalid') return fallback;
    const rule = zeroOk ? 'a number of seconds >= 0' : 'a number of seconds > 0';
    if (node.kind !== 'scalar' || typeof node.value !== 'number') {
      this.error(node, key, `expected ${rule}, e.g. \`${key}: ${fallback}\`, not ${describe(node)}`);
      return fallback;
    }
    const n = node.value;
    if (!Number.isFinite(n) || n < 0 || (!zeroOk && n === 0)) {
      this.error(node, key, `${node.text} is out of range: expected ${rule}, e.g. \`${key}: ${fallback}\``);
      return fallback;
    }
    if (n > MAX_SECONDS) {
      this.error(node, key, `${node.text} seconds is more than a day (${MAX_SECONDS}): give a smaller number`);
      return fallback;
    }
    return n;
  }

  private schedule(node: RawNode | undefined): string {
    const key = 'schedule';
    if (node === undefined || isNull(node) || node.kind === 'invalid') return DEFAULT_SCHEDULE;
    const example = `e.g. \`schedule: '${DEFAULT_SCHEDULE}'\` (daily at 03:00; 5 fields, or 6 with seconds first)`;
    if (node.kind !== 'scalar' || typeof node.value !== 'string') {
      this.error(node, key, `expected a cron expression in quotes, ${example}, not ${describe(node)}`);
      return DEFAULT_SCHEDULE;
    }
    const expr = node.value.trim();
    let ok = false;
    let why = '';
    try {
      const cron = nodeCron();
      ok = cron.validate(expr);
      if (!ok) why = cron.validateDetailed(expr).errors.map((e) => e.message).join('; ');
    } catch (err) {
      why = err instanceof Error ? err.message : String(err);
    }
    if (!ok) {
      this.error(node, key, `invalid cron expression ${JSON.stringify(node.value)}${why ? ` (${why})` : ''}: ${example}`);
      return DEFAULT_SCHEDULE;
    }
    return expr;
  }

  private retention(node: RawNode | undefined): RetentionPolicy | null {
    const key = 'user_data_retention';
    if (node === undefined || isNull(node) || node.kind === 'invalid') return null;
    const example = 'e.g. `user_data_retention: {keep: 7, days: 30}`';
    if (node.kind !== 'map') {
      this.error(node, key, `expected a mapping with \`keep\` and/or \`days\`, ${example}, not ${describe(node)}`);
      return null;
    }
    const policy: RetentionPolicy = { keep: null, maxAgeDays: null };
    for (const entry of node.entries) {
      const sub = `${key}.${entry.key}`;
      const value = entry.value;
      if (value.kind === 'invalid') continue;
      if (entry.key === 'keep') {
        if (isNull(value)) continue;
        if (value.kind === 'scalar' && typeof value.value === 'number' && Number.isInteger(value.value) && value.value >= 1) {
          policy.keep = value.value;
        } else {
          this.error(value, sub, `expected a whole number >= 1 (how many snapshots to keep), e.g. \`keep: 7\`, not ${describe(value)}`);
        }
      } else if (entry.key === 'days') {
        if (isNull(value)) continue;
        if (value.kind === 'scalar' && typeof value.value === 'number' && Number.isFinite(value.value) && value.value > 0) {
          policy.maxAgeDays = value.value;
        } else {
          this.error(value, sub, `expected a number of days > 0, e.g. \`days: 30\`, not ${describe(value)}`);
        }
      } else {
        this.warnings.push({
          file: this.opts.file,
          line: entry.line,
          key: sub,
          message: 'unknown parameter, ignored (user_data_retention takes `keep` and `days`)',
        });
      }
    }
    const given = node.entries.some((e) => (e.key === 'keep' || e.key === 'days') && !isNull(e.value));
    if (!given) {
      this.error(node, key, `give \`keep\` and/or \`days\` (${example}), or leave user_data_retention out to keep every snapshot`);
      return null;
    }
    return policy;
  }

  private compress(node: RawNode | undefined): 'none' | 'gzip' {
    const key = 'user_data_compress';
    if (node === undefined || isNull(node) || node.kind === 'invalid') return 'none';
    if (node.kind === 'scalar' && (node.value === 'none' || node.value === 'gzip')) return node.value;
    const got = node.kind === 'scalar' && typeof node.value === 'string' ? JSON.stringify(node.value) : describe(node);
    this.error(node, key, `expected \`none\` or \`gzip\`, not ${got}`);
    return 'none';
  }

  private quiesce(node: RawNode | undefined): QuiesceMethod {
    const key = 'quiesce';
    if (node === undefined || isNull(node) || node.kind === 'invalid') return DEFAULT_QUIESCE;
    const found = QUIESCE_METHODS.find((m) => node.kind === 'scalar' && node.value === m);
    if (found) return found;
    this.error(
      node,
      key,
      `expected \`stop\` (stop and start the consumers) or \`pause-flag\` (set CSV2's ProcessMonitor pause flag in csv2_configuration), not ${describe(node)}`,
    );
    return DEFAULT_QUIESCE;
  }

  /** A database name (as the server accepts one: up to 64 characters, no NUL or `/`, no surrounding spaces). */
  private databaseName(key: string, node: RawNode | undefined): string | null {
    if (node === undefined || isNull(node) || node.kind === 'invalid') return null;
    if (node.kind === 'scalar' && typeof node.value === 'string') {
      const v = node.value;
      if (v.length > 0 && v.length <= 64 && !v.includes('\0') && !v.includes('/') && v.trim() === v) return v;
    }
    this.error(node, key, `expected a database name (1-64 characters, no \`/\`), e.g. \`${key}: csv2_verify\`, not ${node.kind === 'scalar' ? JSON.stringify(node.value) : describe(node)}`);
    return null;
  }

  /** `api: { listen, allow_remote, allow_restore }`; absent or null: no listener. */
  private api(node: RawNode | undefined): ApiConfig | null {
    const key = 'api';
    if (node === undefined || isNull(node) || node.kind === 'invalid') return null;
    const example = 'e.g. `api: { listen: "unix:/run/schema_backup/api.sock" }`';
    if (node.kind !== 'map') {
      this.error(node, key, `expected a mapping with \`listen\`, ${example}, not ${describe(node)}`);
      return null;
    }
    const sub = (k: string) => node.entries.find((e) => e.key === k)?.value;
    for (const entry of node.entries) {
      if (!['listen', 'allow_remote', 'allow_restore'].includes(entry.key)) {
        this.warnings.push({ file: this.opts.file, line: entry.line, key: `${key}.${entry.key}`, message: 'unknown parameter, ignored (api takes `listen`, `allow_remote` and `allow_restore`)' });
      }
    }
    const allowRemote = this.boolean('api.allow_remote', sub('allow_remote'), false);
    const allowRestore = this.boolean('api.allow_restore', sub('allow_restore'), false);
    const listenNode = sub('listen');
    if (listenNode === undefined || isNull(listenNode) || listenNode.kind !== 'scalar' || typeof listenNode.value !== 'string') {
      this.error(listenNode ?? node, 'api.listen', `expected an address in quotes, ${example}${listenNode ? `, not ${describe(listenNode)}` : ''}`);
      return null;
    }
    const listen = parseListen(listenNode.value.trim());
    if ('problem' in listen) {
      this.error(listenNode, 'api.listen', `${JSON.stringify(listenNode.value)}: ${listen.problem}`);
      return null;
    }
    if (listen.kind === 'tcp' && !listen.loopback && !allowRemote) {
      this.error(
        listenNode,
        'api.listen',
        `${describeListen(listen)} is reachable from other hosts: set \`allow_remote: true\` as well (and put a TLS reverse proxy in front), or listen on 127.0.0.1 or a unix socket`,
      );
      return null;
    }
    return { listen, allowRemote, allowRestore };
  }

  private boolean(key: string, node: RawNode | undefined, fallback: boolean): boolean {
    if (node === undefined || isNull(node) || node.kind === 'invalid') return fallback;
    if (node.kind === 'scalar' && typeof node.value === 'boolean') return node.value;
    this.error(node, key, `expected true or false, e.g. \`${key}: ${String(!fallback)}\`, not ${describe(node)}`);
    return fallback;
  }
}

function isNull(node: RawNode): boolean {
  return node.kind === 'scalar' && node.value === null;
}

/** How a value looks to the user, for "expected X, not Y". */
function describe(node: RawNode): string {
  switch (node.kind) {
    case 'list':
      return 'a list';
    case 'map':
      return 'a mapping';
    case 'invalid':
      return 'an invalid value';
    case 'scalar':
      if (node.value === null) return 'an empty value';
      if (typeof node.value === 'string') return `the text ${JSON.stringify(truncate(node.value))}`;
      return `the ${typeof node.value} \`${truncate(node.text)}\``;
  }
}

function truncate(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** The known key closest to a misspelt one, if it is close enough to be a likely typo. */
function suggest(key: string, known: readonly string[]): string | null {
  const lower = key.toLowerCase();
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = distance(lower, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best !== null && bestDistance <= Math.max(1, Math.floor(best.length / 4)) ? best : null;
}

function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return Infinity;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length] ?? Infinity;
}
