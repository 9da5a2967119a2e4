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
import { parseYaml } from './yaml';
import type { RawNode } from './yaml';

export const DEFAULT_DB_HOST = '127.0.0.1';
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
        ? fromFields(parseOptionFile(text, file, problems), file, 'option-file', problems)
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
  const parsed = parseYaml(text, file);
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

function parseOptionFile(text: string, file: string, problems: ConfigMessage[]): Fields {
  const fields: Fields = {};
  let group: string | null = null;
  let sawClient = false;
  text.split('\n').forEach((raw, i) => {
    const lineNo = i + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    if (line.startsWith('!include')) {
      problems.push({ file, line: lineNo, message: '!include directives are not followed: put the [client] settings in this file' });
      return;
    }
    if (line.startsWith('[')) {
      const end = line.indexOf(']');
      if (end < 0) {
        problems.push({ file, line: lineNo, message: 'unterminated group header: expected `[client]`' });
        group = null;
        return;
      }
      group = line.slice(1, end).trim().toLowerCase();
      if (group === 'client') sawClient = true;
      return;
    }
    if (group !== 'client') return;
    const body = removeEndComment(line);
    const eq = body.indexOf('=');
    const name = normaliseOptionName(eq < 0 ? body : body.slice(0, eq));
    const field = OPTION_KEYS[name];
    if (field === undefined) return;
    // `password` alone means "ask"; there is no one to ask, so it is empty.
    fields[field] = eq < 0 ? '' : optionValue(body.slice(eq + 1));
  });
  if (!sawClient) {
    problems.push({
      file,
      message: 'no `[client]` section: a MySQL option file must hold host, port (or socket), user, password and database under `[client]`',
    });
  }
  return fields;
}

/** MariaDB treats `-` and `_` alike in option names, and `loose-` only softens unknown-option errors. */
function normaliseOptionName(raw: string): string {
  const name = raw.trim().toLowerCase().replace(/_/g, '-');
  return name.startsWith('loose-') ? name.slice('loose-'.length) : name;
}

/** As mysys's remove_end_comment: `#` outside quotes ends the line. */
function removeEndComment(line: string): string {
  let quote = '';
  let escape = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if ((c === "'" || c === '"') && !escape) {
      if (!quote) quote = c;
      else if (quote === c) quote = '';
    }
    if (!quote && c === '#') return line.slice(0, i);
    escape = quote !== '' && c === '\\' && !escape;
  }
  return line;
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', s: ' ', '"': '"', "'": "'", '\\': '\\' };

/** Trim, strip one pair of matching quotes, then apply mysys's backslash escapes. */
function optionValue(raw: string): string {
  let v = raw.trim();
  if (v.length > 1 && (v[0] === '"' || v[0] === "'") && v[v.length - 1] === v[0]) v = v.slice(1, -1);
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i] ?? '';
    if (c === '\\' && i < v.length - 1) {
      const next = v[++i] ?? '';
      out += ESCAPES[next] ?? `\\${next}`;
    } else {
      out += c;
    }
  }
  return out;
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
  const host = givenHost !== '' ? givenHost : socketPath !== null ? 'localhost' : DEFAULT_DB_HOST;
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
