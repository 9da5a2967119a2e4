/**
 * MySQL/MariaDB option-file text -> its lines as data, read with the rules of
 * the clients' own reader (mysys my_default.c): `#` and `;` comments, `[group]`
 * headers, `name = value` with quotes and backslash escapes, `-`/`_` alike in
 * names, `loose-` prefixes, and `!include`/`!includedir` directives (returned,
 * not followed: following them is I/O, see client-options.ts). Pure.
 */
import type { ConfigMessage } from '../errors';

export type OptionFileItem =
  | {
      kind: 'option';
      line: number;
      /** Lower-cased, as the clients compare group names. */
      group: string;
      /** Normalised: lower case, `_` as `-`, without `loose-`. */
      name: string;
      /** null for a bare `name` without `=`. */
      value: string | null;
    }
  | { kind: 'include' | 'includedir'; line: number; path: string };

export interface ParsedOptionFile {
  /** In file order; options outside any group are dropped, as the clients refuse them. */
  items: OptionFileItem[];
  /** Every group header, lower-cased, in file order (an empty group has no items). */
  groups: string[];
  problems: ConfigMessage[];
}

export function parseOptionFile(text: string, file: string): ParsedOptionFile {
  const items: OptionFileItem[] = [];
  const problems: ConfigMessage[] = [];
  const groups: string[] = [];
  let group: string | null = null;
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    const body = raw.trim();
    if (body === '' || body.startsWith('#') || body.startsWith(';')) return;
    const directive = /^!(includedir|include)\s+(.*)$/.exec(body);
    if (directive) {
      const path = (directive[2] ?? '').trim();
      if (path !== '') items.push({ kind: directive[1] === 'includedir' ? 'includedir' : 'include', line, path });
      return;
    }
    if (body.startsWith('!')) {
      problems.push({ file, line, message: 'unknown directive: expected `!include FILE` or `!includedir DIRECTORY`' });
      return;
    }
    if (body.startsWith('[')) {
      const end = body.indexOf(']');
      if (end < 0) {
        problems.push({ file, line, message: 'unterminated group header: expected `[client]`' });
        group = null;
        return;
      }
      group = body.slice(1, end).trim().toLowerCase();
      groups.push(group);
      return;
    }
    if (group === null) return;
    const option = removeEndComment(body);
    const eq = option.indexOf('=');
    const name = normaliseOptionName(eq < 0 ? option : option.slice(0, eq));
    if (name === '') return;
    items.push({ kind: 'option', line, group, name, value: eq < 0 ? null : optionValue(option.slice(eq + 1)) });
  });
  return { items, groups, problems };
}

/** MariaDB treats `-` and `_` alike in option names, and `loose-` only softens unknown-option errors. */
export function normaliseOptionName(raw: string): string {
  const name = raw.trim().toLowerCase().replace(/_/g, '-');
  return name.startsWith('loose-') ? name.slice('loose-'.length) : name;
}

/** As mysys's remove_end_comment: `#` outside quotes ends the line. */
export function removeEndComment(line: string): string {
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
export function optionValue(raw: string): string {
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
