/**
 * Database credentials from file text, in either of two formats (detected
 * from the content):
 *  - CSV2's cloudscheduler.yaml: a `database:` mapping with db_host, db_port,
 *    db_user, db_password, db_name and optionally db_socket;
 *  - a MySQL/MariaDB option file: the `[client]` group (host, port, socket,
 *    user, password, database), read with the server's own rules for
 *    comments, quotes and escapes.
 * Pure. The password never appears in an error message: messages are built
 * from key names only, and everything is redacted once more before throwing.
 */
import { ConfigError } from '../errors';
import type { ConfigMessage } from '../errors';
import type { DbCredentials } from './types';
import { optionValue, parseOptionFile, removeEndComment } from './option-file';
import { parseYaml } from './yaml';
import type { RawNode, YamlConstruct } from './yaml';

/** As the mysql clients: no host means localhost, which means the socket (see socket.ts). */
export const DEFAULT_DB_HOST = 'localhost';
export const DEFAULT_DB_PORT = 3306;

export type CredentialsFormat = 'csv2-yaml' | 'option-file';

interface Fields {
  host?: string;
  port?: string;
  socket?: string;
  user?: string;
  password?: string;
  database?: string;
}

/** Option files start (after comments) with a `[group]` header or a `!include` directive; YAML cannot. */
export function detectCredentialsFormat(text: string): CredentialsFormat {
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    return line.startsWith('[') || line.startsWith('!include') ? 'option-file' : 'csv2-yaml';
  }
  return 'csv2-yaml';
}

export function parseCredentialsText(text: string, file: string): DbCredentials {
  const problems: ConfigMessage[] = [];
  let creds: DbCredentials | null = null;
  try {
    creds =
      detectCredentialsFormat(text) === 'option-file'
        ? fromFields(parseCredentialsOptionFile(text, file, problems), file, 'option-file', problems)
        : fromFields(parseCsv2Yaml(text, file, problems), file, 'csv2-yaml', problems);
  } catch (err) {
    // Nothing here should throw, but if it does, its message must not leak file content either.
    problems.push({ file, message: `cannot read the credentials (${err instanceof Error ? err.name : 'error'})` });
  }
  if (problems.length > 0 || creds === null) {
    throw new ConfigError(redact(problems, text));
  }
  return creds;
}

const CSV2_KEYS: Record<string, keyof Fields> = {
  db_host: 'host',
  db_port: 'port',
  db_socket: 'socket',
  db_user: 'user',
  db_password: 'password',
  db_name: 'database',
};

function parseCsv2Yaml(text: string, file: string, problems: ConfigMessage[]): Fields | null {
  const parsed = parseYaml(text, file, { tolerate: outsideDatabaseSection });
  for (const p of parsed.problems) problems.push(safeYamlProblem(p));
  if (parsed.problems.length > 0) return null;
  const root = parsed.root;
  const hint = 'expected a CSV2 file with a `database:` section (db_host, db_port, db_user, db_password, db_name) or a MySQL option file with a `[client]` section';
  if (root === null || root.kind !== 'map') {
    problems.push({ file, message: `no database credentials found: ${hint}` });
    return null;
  }
  const section = root.entries.find((e) => e.key === 'database');
  if (section === undefined) {
    problems.push({ file, message: `no \`database:\` section: ${hint}` });
    return null;
  }
  if (section.value.kind !== 'map') {
    problems.push({ file, line: section.line, key: 'database', message: 'expected a mapping of db_host, db_port, db_user, db_password, db_name' });
    return null;
  }
  const fields: Fields = {};
  for (const entry of section.value.entries) {
    const field = CSV2_KEYS[entry.key];
    if (field === undefined) continue;
    const value = scalarText(entry.value);
    if (value === undefined) {
      // No value in the message: this could be the password.
      problems.push({ file, line: entry.line, key: `database.${entry.key}`, message: 'expected a single value, not a list or mapping' });
      continue;
    }
    if (value !== null) fields[field] = value;
  }
  return fields;
}

/**
 * CSV2 reads this file with PyYAML, which accepts anchors, aliases, tags and
 * duplicate keys (the last wins): in the sections CSV2 alone uses they must
 * not make the file invalid here. In `database:`, which is read here, an alias,
 * tag or duplicate stays an error (which value was meant?); an anchor only
 * names a value for use elsewhere, so it passes everywhere.
 */
function outsideDatabaseSection(construct: YamlConstruct, path: readonly string[]): boolean {
  if (construct === 'anchor') return true;
  return path.length > 0 && path[0] !== 'database';
}

/** The value as written (so a password `007` stays `007`); null when empty; undefined when not a scalar. */
function scalarText(node: RawNode): string | null | undefined {
  if (node.kind !== 'scalar') return undefined;
  if (node.value === null && node.plain) return null;
  return node.text;
}

/**
 * Parser messages made only of fixed words carry no file content and are kept;
 * a tag message quotes the tag (which could be the password), so it is reworded.
 */
function safeYamlProblem(p: ConfigMessage): ConfigMessage {
  const where = { file: p.file, ...(p.line !== undefined ? { line: p.line } : {}) };
  if (p.message.startsWith('YAML tag ')) return { ...where, message: 'YAML tags (`!name`) are not supported: quote the value' };
  const duplicate = /^duplicate key \(first given at line (\d+)\)/.exec(p.message);
  if (duplicate) {
    // A key is named only when it is one of ours: another could be a password that lost its line.
    const key = p.key === 'database' ? 'database' : p.key !== undefined && Object.hasOwn(CSV2_KEYS, p.key) ? `database.${p.key}` : undefined;
    return { ...where, ...(key !== undefined ? { key } : {}), message: `duplicate key (first given at line ${duplicate[1]}): give each key once` };
  }
  // Keys are dropped: in a broken file, a key may be a password that lost its line.
  if (/^[A-Za-z0-9 ,.;()`'_:&*-]*$/.test(p.message)) return { ...where, message: p.message };
  return { ...where, message: 'not valid YAML here' };
}

const OPTION_KEYS: Record<string, keyof Fields> = {
  host: 'host',
  port: 'port',
  socket: 'socket',
  user: 'user',
  password: 'password',
  database: 'database',
};

function parseCredentialsOptionFile(text: string, file: string, problems: ConfigMessage[]): Fields {
  const parsed = parseOptionFile(text, file);
  problems.push(...parsed.problems);
  const fields: Fields = {};
  for (const item of parsed.items) {
    if (item.kind !== 'option') {
      problems.push({ file, line: item.line, message: `!${item.kind} directives are not followed: put the [client] settings in this file` });
      continue;
    }
    if (item.group !== 'client') continue;
    const field = OPTION_KEYS[item.name];
    // `password` alone means "ask"; there is no one to ask, so it is empty.
    if (field !== undefined) fields[field] = item.value ?? '';
  }
  if (!parsed.groups.includes('client')) {
    problems.push({
      file,
      message: 'no `[client]` section: a MySQL option file must hold host, port (or socket), user, password and database under `[client]`',
    });
  }
  return fields;
}

function fromFields(fields: Fields | null, file: string, format: CredentialsFormat, problems: ConfigMessage[]): DbCredentials | null {
  if (fields === null) return null;
  const name = (f: keyof Fields): string =>
    format === 'csv2-yaml' ? `database.${Object.keys(CSV2_KEYS).find((k) => CSV2_KEYS[k] === f) ?? f}` : `[client] ${f}`;
  const missing = (f: keyof Fields, what: string): void => {
    problems.push({ file, key: name(f), message: `missing: the ${what} is required` });
  };
  const user = fields.user?.trim() ?? '';
  const database = fields.database?.trim() ?? '';
  if (user === '') missing('user', 'database user name');
  if (database === '') missing('database', 'database name');

  let port = DEFAULT_DB_PORT;
  if (fields.port !== undefined && fields.port.trim() !== '') {
    const text = fields.port.trim();
    const n = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
    if (!(n >= 1 && n <= 65535)) {
      // The value is not shown: in a damaged file it may be the password that lost its own line.
      problems.push({ file, key: name('port'), message: 'is not a TCP port: expected a whole number from 1 to 65535' });
    } else {
      port = n;
    }
  }
  const socketPath = fields.socket?.trim() ? fields.socket.trim() : null;
  const givenHost = fields.host?.trim() ?? '';
  const host = givenHost !== '' ? givenHost : DEFAULT_DB_HOST;
  if (problems.length > 0) return null;
  return { host, port, socketPath, user, password: fields.password ?? '', database, source: file };
}

/** Belt and braces: whatever a message says, it must not carry anything that could be a password. */
function redact(problems: ConfigMessage[], text: string): ConfigMessage[] {
  const secrets = passwordCandidates(text);
  if (secrets.length === 0) return problems;
  const scrub = (s: string): string => secrets.reduce((acc, secret) => acc.split(secret).join('***'), s);
  return problems.map((p) => ({ ...p, message: scrub(p.message), ...(p.key !== undefined ? { key: scrub(p.key) } : {}) }));
}

/** Values on any line whose key mentions "pass", in every spelling either format allows. */
function passwordCandidates(text: string): string[] {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /pass[^:=]*[:=](.*)$/i.exec(line);
    if (!m || m[1] === undefined) continue;
    const value = m[1].trim();
    for (const candidate of [value, value.replace(/^['"]|['"]$/g, ''), optionValue(removeEndComment(value))]) {
      if (candidate.length >= 3) out.add(candidate);
    }
  }
  // Longest first, so a shorter candidate inside a longer one does not leave fragments behind.
  return [...out].sort((a, b) => b.length - a.length);
}
