/**
 * CSV2's db_upgrade reads our files itself, line by line, with naive string
 * splits. This is that reader, written from the rules in issue 10 (not from
 * our own format): if it finds fewer rows, or cuts a value, an upgrade
 * reloads user tables wrong. Python semantics are kept where they matter:
 * text-mode lines (universal newlines, UTF-8 that must decode), `str.split`
 * with a maximum, and the first matching line only.
 */
import { readFileSync } from 'node:fs';

/** Python's `open(path).readline()` loop: UTF-8 (fails on invalid bytes), `\r\n`, `\r` and `\n` end lines, each kept with `\n`. */
export function pythonLines(path: string): string[] {
  const text = new TextDecoder('utf-8', { fatal: true }).decode(readFileSync(path));
  const lines = text.replace(/\r\n?/g, '\n').split('\n').map((l) => `${l}\n`);
  // A final newline leaves an empty last piece that readline never returns.
  if (lines[lines.length - 1] === '\n') lines.pop();
  else lines[lines.length - 1] = lines[lines.length - 1].slice(0, -1);
  return lines;
}

/** Python's `s.split(sep, max)`: at most `max` splits, the rest kept whole. */
export function pySplit(s: string, sep: string, max: number): string[] {
  const out: string[] = [];
  let rest = s;
  while (out.length < max) {
    const at = rest.indexOf(sep);
    if (at < 0) break;
    out.push(rest.slice(0, at));
    rest = rest.slice(at + sep.length);
  }
  out.push(rest);
  return out;
}

/** Values of one row text, cut at commas outside single-quoted strings (a backslash in a string skips the next character). */
export function rowValues(row: string): string[] {
  const values: string[] = [];
  const valueOf = (from: number, to: number) => (to < row.length - 1 ? row.slice(from, to) : row.slice(from));
  let isString = false;
  let skip = false;
  let start = -1;
  let ix = 0;
  for (ix = 0; ix < row.length; ix++) {
    const ch = row[ix];
    if (start < 0) {
      if (ch !== ',') {
        start = ix;
        if (ch === "'") isString = true;
      }
    } else if (isString && skip) skip = false;
    else if (isString && ch === '\\') skip = true;
    else if (isString && ch === "'") {
      values.push(valueOf(start, ix + 1));
      isString = false;
      start = -1;
    } else if (!isString && ch === ',') {
      values.push(valueOf(start, ix));
      start = -1;
    }
  }
  if (start > -1) values.push(valueOf(start, ix - 1));
  return values;
}

/**
 * Rows of a table file (`latest/TABLE`, `DIR/TABLE`): the first line whose words, with `(`, `)` and `;`
 * spaced out, are INSERT INTO <name> VALUES; after its fourth space, less the first character and the
 * last three, split on `),(`; every later INSERT is ignored. Each row is a list of SQL literals, verbatim.
 */
export function readTableRows(path: string): string[][] {
  for (const line of pythonLines(path)) {
    const l = line.endsWith(',') ? line.slice(0, -1) : line;
    const words = pySplit(l.replace(/NOT NULL/g, 'NOT_NULL').replace(/;/g, ' ;').replace(/\(/g, ' ').replace(/\)/g, ' '), ' ', 4);
    if (words.length > 2 && words[0] === 'INSERT' && words[1] === 'INTO' && words[3] === 'VALUES') {
      const body = pySplit(line, ' ', 4)[4] ?? '';
      return body
        .slice(1, -3)
        .split('),(')
        .filter((row) => row.length > 0)
        .map(rowValues);
    }
  }
  return [];
}

/** Column names of a host file: after the `CREATE TABLE` line, each line whose first word starts with a backtick, until a line ending in `;`. */
export function readColumns(path: string): string[] {
  const columns: string[] = [];
  let inCreate = false;
  for (const line of pythonLines(path)) {
    const words = line.replace(/NOT NULL/g, 'NOT_NULL').replace(/;/g, ' ;').replace(/\(/g, ' ').replace(/\)/g, ' ').split(/\s+/).filter(Boolean);
    if (words.length > 2 && words[0] === 'CREATE' && words[1] === 'TABLE') {
      inCreate = true;
      continue;
    }
    if (inCreate && words.length > 0 && words[0].startsWith('`')) {
      columns.push(words[0].slice(1, -1));
      continue;
    }
    if (inCreate && words.length > 0 && words[words.length - 1] === ';') break;
  }
  return columns;
}

/**
 * The settings in `HOST/csv2_configuration`: the first line starting with INSERT INTO; the text after
 * `VALUES (` less the last three characters, rows split on `),(`, each row less its first and last
 * character split on `','`.
 */
export function readSettings(path: string): string[][] {
  for (const line of pythonLines(path)) {
    const words = line.split(/\s+/).filter(Boolean);
    if (words.length > 2 && words[0] === 'INSERT' && words[1] === 'INTO') {
      const from = line.indexOf('VALUES (') + 8;
      return line
        .slice(from, -3)
        .split('),(')
        .map((row) => row.slice(1, -1).split("','"));
    }
  }
  return [];
}

/** The statement db_upgrade builds from read rows and loads with the stock client (column names quoted here; see the test). */
export function replayStatement(table: string, columns: string[], rows: string[][]): string {
  const q = (n: string) => `\`${n.replace(/`/g, '``')}\``;
  return `INSERT INTO ${q(table)}\n(${columns.map(q).join(',')})\nVALUES\n${rows.map((r) => `(${r.join(',')})`).join(',\n')};\n`;
}
