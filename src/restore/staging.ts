/**
 * Staging inside the target database (pure): a restore loads every table
 * under a hashed name of its own in the target itself, so it needs no
 * privilege beyond that database, then moves the tables into place with one
 * RENAME TABLE. Foreign keys are taken out of the staging CREATE TABLE and
 * added after the move: InnoDB constraint names are unique per database, so
 * a staging copy cannot carry the same names as the table it replaces.
 */
import { createHash } from 'node:crypto';
import { quoteIdent } from '../db/quote';
import { Byte } from '../domain/sql-bytes';

/** `_sbr_<run>_<hash>` (staging) and `_sbo_<run>_<hash>` (a replaced table parked until the commit). */
const PREFIX = { staging: '_sbr_', parked: '_sbo_' } as const;
const LEFTOVER = /^_sb[ro]_[0-9a-f]{8}_[0-9a-f]{16}$/;

/** 8 hex digits naming one restore run. */
export type RunId = string;

function nameOf(kind: keyof typeof PREFIX, run: RunId, table: string): string {
  return `${PREFIX[kind]}${run}_${createHash('sha256').update(table, 'utf8').digest('hex').slice(0, 16)}`;
}

/** Where `table` loads: any table name (up to 64 characters, any bytes) maps to a short, plain one. */
export function stagingName(run: RunId, table: string): string {
  return nameOf('staging', run, table);
}

/** Where a replaced `table` waits until the commit's point of no return. */
export function parkedName(run: RunId, table: string): string {
  return nameOf('parked', run, table);
}

/** A staging or parked table left by a restore that was killed: the next restore removes it. */
export function isLeftover(table: string): boolean {
  return LEFTOVER.test(table);
}

/** Reads the backquoted identifier at `at` (which must be a backtick): its name and the index after it, or null. */
export function readQuotedIdent(text: string, at: number): { name: string; end: number } | null {
  if (text[at] !== '`') return null;
  let i = at + 1;
  let name = '';
  for (;;) {
    const close = text.indexOf('`', i);
    if (close < 0) return null;
    name += text.slice(i, close);
    if (text[close + 1] === '`') {
      name += '`';
      i = close + 2;
      continue;
    }
    return { name, end: close + 1 };
  }
}

/** Index of the `)` closing the `(` at `open`, skipping quoted text; -1 when unbalanced. */
function matchingParen(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === "'" || c === '"' || c === '`') {
      i = endOfQuoted(text, i);
      if (i < 0) return -1;
    } else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return -1;
}

/** Index of the closing quote of the quoted text opening at `at` (doubled quotes and, outside backticks, backslashes escape). */
function endOfQuoted(text: string, at: number): number {
  const q = text[at];
  for (let i = at + 1; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && q !== '`') i++;
    else if (c === q) {
      if (text[i + 1] === q) i++;
      else return i;
    }
  }
  return -1;
}

/** The body's top-level items (columns, keys, constraints), split at commas outside parentheses and quotes. */
function topLevelItems(body: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === "'" || c === '"' || c === '`') i = endOfQuoted(body, i);
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      items.push(body.slice(start, i));
      start = i + 1;
    }
    if (i < 0) break;
  }
  items.push(body.slice(start));
  return items;
}

const FOREIGN_KEY = /^CONSTRAINT\s+(?:`(?:[^`]|``)*`|\S+)\s+FOREIGN\s+KEY\b|^FOREIGN\s+KEY\b/i;

export interface StagingCreate {
  /** The CREATE TABLE of the staging table: its name, no foreign keys. */
  create: string;
  /** Each foreign key as SHOW CREATE TABLE prints it (`CONSTRAINT `n` FOREIGN KEY ...`), for ALTER TABLE ... ADD. */
  foreignKeys: string[];
}

/**
 * Splits a backup's CREATE TABLE (or CREATE SEQUENCE) into the staging table's CREATE TABLE and its
 * foreign keys. Throws when the statement does not create `table` (a file may
 * create only its own table: staging shares the database with live tables).
 */
export function stagingCreate(createTable: string, table: string, staging: string): StagingCreate {
  const sequence = /^CREATE\s+SEQUENCE\s+/i.exec(createTable);
  if (sequence) {
    // A sequence (SHOW CREATE SEQUENCE): no column list, no foreign keys; its state is its one row.
    const name = readQuotedIdent(createTable, sequence[0].length);
    if (!name) throw new Error('not a CREATE SEQUENCE `name` statement');
    if (name.name !== table) throw new Error(`it creates sequence ${quoteIdent(name.name)}, not ${quoteIdent(table)}`);
    return { create: `CREATE SEQUENCE ${quoteIdent(staging)}${createTable.slice(name.end)}`, foreignKeys: [] };
  }
  const head = /^CREATE\s+TABLE\s+/i.exec(createTable);
  const ident = head ? readQuotedIdent(createTable, head[0].length) : null;
  if (!head || !ident) throw new Error('not a CREATE TABLE `name` statement');
  if (ident.name !== table) throw new Error(`it creates table ${quoteIdent(ident.name)}, not ${quoteIdent(table)}`);
  const open = createTable.indexOf('(', ident.end);
  const close = open < 0 ? -1 : matchingParen(createTable, open);
  if (open < 0 || close < 0 || createTable.slice(ident.end, open).trim() !== '') throw new Error(`cannot read the column list of table ${quoteIdent(table)}`);
  const items = topLevelItems(createTable.slice(open + 1, close));
  const last = items[items.length - 1] ?? '';
  const tail = last.slice(last.trimEnd().length);
  const kept: string[] = [];
  const foreignKeys: string[] = [];
  for (const item of items) {
    const text = item.trim();
    if (FOREIGN_KEY.test(text)) foreignKeys.push(text);
    else kept.push(item.trimEnd());
  }
  const create = `CREATE TABLE ${quoteIdent(staging)} (${kept.join(',')}${tail})${createTable.slice(close + 1)}`;
  return { create, foreignKeys };
}

/** The constraint name of a foreign key item (`CONSTRAINT `n` FOREIGN KEY ...`), or null. */
export function foreignKeyName(item: string): string | null {
  const m = /^CONSTRAINT\s+/i.exec(item);
  if (!m) return null;
  const q = readQuotedIdent(item, m[0].length);
  if (q) return q.name;
  return /^\S+/.exec(item.slice(m[0].length))?.[0] ?? null;
}

const INSERT_INTO = Buffer.from('INSERT INTO ');

/** Where the table name of `INSERT INTO \`name\`` ends (its closing backtick), after checking it names `table`. */
function insertTarget(stmt: Buffer, table: string): number {
  if (stmt.length < INSERT_INTO.length + 2 || !stmt.subarray(0, INSERT_INTO.length).toString('latin1').toUpperCase().startsWith('INSERT INTO ') || stmt[INSERT_INTO.length] !== Byte.BACKTICK) {
    throw new Error('not an INSERT INTO `name` statement');
  }
  let i = INSERT_INTO.length + 1;
  for (;;) {
    i = stmt.indexOf(Byte.BACKTICK, i);
    if (i < 0) throw new Error('unterminated table name in an INSERT statement');
    if (stmt[i + 1] === Byte.BACKTICK) {
      i += 2;
      continue;
    }
    break;
  }
  const name = stmt.toString('utf8', INSERT_INTO.length + 1, i).replace(/``/g, '`');
  if (name !== table || stmt[i + 1] === 0x2e) throw new Error(`an INSERT writes table ${quoteIdent(name)}${stmt[i + 1] === 0x2e ? '.…' : ''}, not ${quoteIdent(table)}`);
  return i;
}

const VALUES = Buffer.from(' VALUES (');

/** Where the rows of an INSERT start (its first `(` after VALUES), past an optional list of backticked column names. */
function rowsStart(stmt: Buffer, afterName: number): number {
  let j = afterName;
  if (stmt[j] === 0x20 && stmt[j + 1] === 0x28 && stmt[j + 2] === Byte.BACKTICK) {
    j += 2;
    for (;;) {
      if (stmt[j] !== Byte.BACKTICK) throw new Error('a column list that is not backticked names');
      j = stmt.indexOf(Byte.BACKTICK, j + 1);
      while (j >= 0 && stmt[j + 1] === Byte.BACKTICK) j = stmt.indexOf(Byte.BACKTICK, j + 2);
      if (j < 0) throw new Error('unterminated column name in an INSERT statement');
      j++;
      if (stmt[j] === 0x2c) j++;
      else if (stmt[j] === 0x29) {
        j++;
        break;
      } else throw new Error('a malformed column list in an INSERT statement');
    }
  }
  if (!stmt.subarray(j, j + VALUES.length).equals(VALUES)) throw new Error('an INSERT without ` VALUES (` where its rows should start');
  return j + VALUES.length - 1;
}

/**
 * An INSERT of a backup file redirected to its staging table, as bytes: `head`
 * takes the place of everything before the rows, and each piece is a range
 * [from, to) of the statement's rows, so a query is head + piece, the file's
 * own bytes (the loader copies them into its query packet; see db/query-bytes).
 */
export interface StagingInsert {
  head: Buffer;
  pieces: Iterable<readonly [number, number]>;
}

/**
 * The INSERT redirected to its staging table. With `pieceBytes`, its rows are cut
 * into pieces of about that many bytes, only where one row ends and the next begins
 * (`),(`), which the dump never writes inside a value (src/dump/tuples.ts,
 * commaNeedsEscape): only for files of that layout (a manifest with statementBytes).
 * Without, the whole statement after the table name is one piece, whatever it holds.
 * Throws when the statement writes another table.
 */
export function stagingInsert(stmt: Buffer, table: string, staging: string, pieceBytes: number | null): StagingInsert {
  const name = insertTarget(stmt, table) + 1;
  const into = Buffer.from(`INSERT INTO ${quoteIdent(staging)}`, 'utf8');
  if (pieceBytes === null) return { head: into, pieces: [[name, stmt.length]] };
  const start = rowsStart(stmt, name);
  return { head: Buffer.concat([into, stmt.subarray(name, start)]), pieces: rowPieces(stmt, start, pieceBytes) };
}

function* rowPieces(stmt: Buffer, start: number, pieceBytes: number): Generator<readonly [number, number]> {
  for (let from = start; from < stmt.length; ) {
    const cut = stmt.length - from <= pieceBytes ? -1 : stmt.indexOf(ROW_BOUNDARY, from + pieceBytes);
    const to = cut < 0 ? stmt.length : cut + 1;
    yield [from, to];
    from = cut < 0 ? stmt.length : cut + 2;
  }
}

const ROW_BOUNDARY = Buffer.from('),(');
