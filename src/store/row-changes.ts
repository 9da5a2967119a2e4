/**
 * Which rows a table file gained, changed and lost between two runs, for the
 * commit message: a file is one INSERT line per statement, so git's own diff
 * says only "this line changed". Pure functions of the two texts. They rely
 * on the dump's layout: rows are split on `),(` (never inside a value, see
 * src/dump/tuples.ts) and values on commas outside quotes.
 */

export interface RowChanges {
  added: number;
  changed: number;
  removed: number;
  /** The first few primary keys touched (added, changed or removed), in key order of the new file. */
  keys: string[];
}

/** How many keys a commit message names per table, and how much of each (a table without a key shows whole rows). */
export const KEYS_SHOWN = 5;
const KEY_CHARS = 80;

/** The row tuples of a table file, without their parentheses, in file order. */
export function rowTuples(text: string): string[] {
  const rows: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('INSERT INTO ')) continue;
    const open = line.indexOf(' VALUES (');
    if (open < 0 || !line.endsWith(');')) continue;
    for (const row of line.slice(open + ' VALUES ('.length, -2).split('),(')) rows.push(row);
  }
  return rows;
}

/** The values of one tuple: cut at commas outside single-quoted strings (a backslash escapes the next byte). */
export function tupleValues(tuple: string): string[] {
  const values: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < tuple.length; i++) {
    const ch = tuple[i];
    if (quoted) {
      if (ch === '\\') i++;
      else if (ch === "'") quoted = false;
    } else if (ch === "'") quoted = true;
    else if (ch === ',') {
      values.push(tuple.slice(start, i));
      start = i + 1;
    }
  }
  values.push(tuple.slice(start));
  return values;
}

/** A row's key as text: its primary-key values, or the whole row for a table without one. */
function rowKey(tuple: string, keyColumns: readonly number[]): string {
  if (keyColumns.length === 0) return tuple;
  const values = tupleValues(tuple);
  return keyColumns.map((i) => values[i] ?? '').join(',');
}

/** Rows added, changed (same key, other values) and removed from `before` to `after`. */
export function rowChanges(before: string, after: string, keyColumns: readonly number[]): RowChanges {
  const old = new Map<string, string>();
  for (const t of rowTuples(before)) old.set(rowKey(t, keyColumns), t);
  const result: RowChanges = { added: 0, changed: 0, removed: 0, keys: [] };
  const note = (key: string) => {
    if (result.keys.length >= KEYS_SHOWN) return;
    const shown = keyColumns.length === 1 ? key : `(${key})`;
    result.keys.push(shown.length > KEY_CHARS ? `${shown.slice(0, KEY_CHARS)}...` : shown);
  };
  for (const t of rowTuples(after)) {
    const key = rowKey(t, keyColumns);
    const previous = old.get(key);
    if (previous === undefined) {
      result.added++;
      note(key);
    } else {
      if (previous !== t) {
        result.changed++;
        note(key);
      }
      old.delete(key);
    }
  }
  for (const key of old.keys()) {
    result.removed++;
    note(key);
  }
  return result;
}

/** `3 added, 1 changed, 0 removed: (a,b), (c,d), ...` */
export function describeRowChanges(c: RowChanges): string {
  const total = c.added + c.changed + c.removed;
  const more = total > c.keys.length ? ', ...' : '';
  return `${c.added} added, ${c.changed} changed, ${c.removed} removed${c.keys.length ? `: ${c.keys.join(', ')}${more}` : ''}`;
}
