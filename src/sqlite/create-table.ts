/**
 * Reads the CREATE TABLE text of SHOW CREATE TABLE (pure): columns with their
 * type, NOT NULL, default, generated and invisible flags; the primary key,
 * unique and plain keys, foreign keys. The server prints this text in one
 * regular form (every key at table level, identifiers backquoted), so a small
 * tokenizer and a walk over the top-level items suffice; anything it does not
 * model (CHECK, PERIOD, options) is skipped, never guessed at.
 */

export interface ColumnDef {
  name: string;
  /** Base type, lower case: int, bigint, varchar, decimal, point, ... */
  type: string;
  /** The type's arguments as written: `10`, `65,30`, `'a','b'`. */
  args: string | null;
  unsigned: boolean;
  notNull: boolean;
  /** The DEFAULT clause, or null when there is none (DEFAULT NULL is `{ kind: 'null' }`). */
  default: DefaultValue | null;
  /** GENERATED ALWAYS AS (...) VIRTUAL/STORED/PERSISTENT: recomputed by the server, never stored in a row. */
  generated: boolean;
  invisible: boolean;
  autoIncrement: boolean;
}

export type DefaultValue =
  | { kind: 'null' }
  /** A quoted string (its decoded text); prefix for b'0101', x'00', _charset'..'. */
  | { kind: 'string'; value: string; prefix: string | null }
  /** An unquoted number as written (`0`, `-1`, `0.00`, `1.5e10`). */
  | { kind: 'number'; text: string }
  /** Anything else (current_timestamp(), an expression), as written. */
  | { kind: 'expression'; text: string };

export interface KeyDef {
  /** The key's name; `PRIMARY` for the primary key. */
  name: string;
  columns: string[];
}

export interface ForeignKeyDef {
  name: string | null;
  columns: string[];
  /** The referenced table; refDatabase is set when it lives in another database. */
  refTable: string;
  refDatabase: string | null;
  refColumns: string[];
  onDelete: string | null;
  onUpdate: string | null;
}

export interface TableDef {
  name: string;
  columns: ColumnDef[];
  primaryKey: string[];
  uniqueKeys: KeyDef[];
  /** Plain, FULLTEXT and SPATIAL keys. */
  indexes: KeyDef[];
  foreignKeys: ForeignKeyDef[];
}

type TokenKind = 'ident' | 'string' | 'word' | 'punct';
interface Token {
  kind: TokenKind;
  /** Decoded text: an identifier's name, a string's value, a word or the punctuation itself. */
  text: string;
  /** `b`, `x`, `_utf8mb4`... directly before a string literal. */
  prefix: string | null;
  start: number;
  end: number;
}

const PUNCT = new Set(['(', ')', ',', '=', ';']);
const WORD_END = /[\s()`'",=;]/;
/** MariaDB's backslash escapes inside a quoted string. */
const ESCAPES: Record<string, string> = { '0': '\0', b: '\b', n: '\n', r: '\r', t: '\t', Z: '\x1a' };

/** Splits CREATE TABLE text into tokens; throws on an unterminated quote. */
export function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (c === '`' || c === "'" || c === '"') {
      let value = '';
      i++;
      for (;;) {
        if (i >= n) throw new Error(`unterminated ${c} quote at offset ${start}`);
        const x = text[i] as string;
        if (x === '\\' && c !== '`') {
          const e = text[i + 1] ?? '';
          value += e === '%' || e === '_' ? `\\${e}` : ESCAPES[e] ?? e;
          i += 2;
        } else if (x === c) {
          if (text[i + 1] === c) {
            value += c;
            i += 2;
          } else {
            i++;
            break;
          }
        } else {
          value += x;
          i++;
        }
      }
      out.push({ kind: c === '`' ? 'ident' : 'string', text: value, prefix: null, start, end: i });
      continue;
    }
    // `db`.`table`: the dot between identifiers (a dot elsewhere belongs to a number).
    if (PUNCT.has(c) || (c === '.' && (text[i - 1] === '`' || text[i + 1] === '`'))) {
      out.push({ kind: 'punct', text: c, prefix: null, start, end: ++i });
      continue;
    }
    while (i < n && !WORD_END.test(text[i] as string)) i++;
    const word = text.slice(start, i);
    // b'0101', x'00ff', _utf8mb4'text': one literal, the word being its prefix.
    if (text[i] === "'" && /^(?:[bBxXnN]|_[A-Za-z0-9]+)$/.test(word)) {
      const lit = tokenize(text.slice(i, endOfString(text, i) + 1))[0] as Token;
      out.push({ kind: 'string', text: lit.text, prefix: word.toLowerCase(), start, end: i + lit.end });
      i += lit.end;
      continue;
    }
    out.push({ kind: 'word', text: word, prefix: null, start, end: i });
  }
  return out;
}

function endOfString(text: string, at: number): number {
  for (let i = at + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === "'") {
      if (text[i + 1] === "'") i++;
      else return i;
    }
  }
  throw new Error(`unterminated ' quote at offset ${at}`);
}

class Cursor {
  i = 0;
  constructor(
    readonly tokens: Token[],
    readonly text: string,
  ) {}
  peek(k = 0): Token | undefined {
    return this.tokens[this.i + k];
  }
  next(): Token {
    const t = this.tokens[this.i++];
    if (!t) throw new Error('unexpected end of the CREATE TABLE text');
    return t;
  }
  /** True (and consumed) when the next words are `words`, case-insensitively. */
  accept(...words: string[]): boolean {
    for (let k = 0; k < words.length; k++) {
      const t = this.peek(k);
      if (!t || t.kind !== 'word' || t.text.toUpperCase() !== words[k]) return false;
    }
    this.i += words.length;
    return true;
  }
  isPunct(p: string): boolean {
    const t = this.peek();
    return t?.kind === 'punct' && t.text === p;
  }
  expectPunct(p: string): void {
    const t = this.next();
    if (t.kind !== 'punct' || t.text !== p) throw new Error(`expected "${p}" at offset ${t.start}, found ${JSON.stringify(t.text)}`);
  }
  /** Skips a balanced parenthesised group starting at the current `(`; returns its inner source text. */
  group(): string {
    const open = this.next();
    let depth = 1;
    for (;;) {
      const t = this.next();
      if (t.kind === 'punct' && t.text === '(') depth++;
      else if (t.kind === 'punct' && t.text === ')' && --depth === 0) return this.text.slice(open.end, t.start);
    }
  }
  /** Tokens up to the next top-level `,` or the closing `)` of the table body. */
  atItemEnd(): boolean {
    return this.isPunct(',') || this.isPunct(')') || this.peek() === undefined;
  }
}

function identName(t: Token, what: string): string {
  if (t.kind !== 'ident' && t.kind !== 'word') throw new Error(`expected ${what} at offset ${t.start}, found ${JSON.stringify(t.text)}`);
  return t.text;
}

/** `(`a`,`b`(10),`c` DESC)` -> [a, b, c]. */
function keyColumns(c: Cursor): string[] {
  c.expectPunct('(');
  const names: string[] = [];
  for (;;) {
    names.push(identName(c.next(), 'a column name'));
    while (!c.isPunct(',') && !c.isPunct(')')) {
      if (c.isPunct('(')) c.group();
      else c.next(); // ASC, DESC
    }
    if (c.next().text === ')') return names;
  }
}

function skipItem(c: Cursor): void {
  while (!c.atItemEnd()) {
    if (c.isPunct('(')) c.group();
    else c.next();
  }
}

/** A DEFAULT value: a literal, NULL, a function call or a parenthesised expression. */
function defaultValue(c: Cursor): DefaultValue {
  const t = c.next();
  if (t.kind === 'string') return { kind: 'string', value: t.text, prefix: t.prefix };
  if (t.kind === 'punct' && t.text === '(') {
    c.i--;
    const inner = c.group();
    return { kind: 'expression', text: `(${inner})` };
  }
  if (t.kind === 'word' && t.text.toUpperCase() === 'NULL') return { kind: 'null' };
  if (t.kind === 'word' && /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(t.text)) return { kind: 'number', text: t.text };
  if (t.kind === 'word' && c.isPunct('(')) {
    const args = c.group();
    return { kind: 'expression', text: `${t.text}(${args})` };
  }
  return { kind: 'expression', text: t.text };
}

function column(c: Cursor, name: string): ColumnDef {
  const typeTok = c.next();
  if (typeTok.kind !== 'word') throw new Error(`column ${name}: expected a type at offset ${typeTok.start}`);
  const col: ColumnDef = {
    name,
    type: typeTok.text.toLowerCase(),
    args: c.isPunct('(') ? c.group() : null,
    unsigned: false,
    notNull: false,
    default: null,
    generated: false,
    invisible: false,
    autoIncrement: false,
  };
  while (!c.atItemEnd()) {
    if (c.accept('UNSIGNED')) col.unsigned = true;
    else if (c.accept('NOT', 'NULL')) col.notNull = true;
    else if (c.accept('DEFAULT')) col.default = defaultValue(c);
    else if (c.accept('AUTO_INCREMENT')) col.autoIncrement = true;
    else if (c.accept('INVISIBLE')) col.invisible = true;
    else if (c.accept('GENERATED', 'ALWAYS', 'AS') || c.accept('AS')) {
      col.generated = true;
      c.group();
    } else if (c.isPunct('(')) c.group();
    else c.next(); // NULL, ZEROFILL, CHARACTER SET x, COLLATE x, COMMENT '..', ON UPDATE f(), CHECK, VIRTUAL, STORED...
  }
  return col;
}

function foreignKey(c: Cursor, name: string | null): ForeignKeyDef {
  const columns = keyColumns(c);
  if (!c.accept('REFERENCES')) throw new Error(`foreign key ${name ?? ''}: expected REFERENCES`);
  let refTable = identName(c.next(), 'a table name');
  let refDatabase: string | null = null;
  if (c.isPunct('.')) {
    c.next();
    refDatabase = refTable;
    refTable = identName(c.next(), 'a table name');
  }
  const fk: ForeignKeyDef = { name, columns, refTable, refDatabase, refColumns: keyColumns(c), onDelete: null, onUpdate: null };
  while (!c.atItemEnd()) {
    const on = c.accept('ON', 'DELETE') ? 'onDelete' : c.accept('ON', 'UPDATE') ? 'onUpdate' : null;
    if (!on) {
      c.next();
      continue;
    }
    const action = c.accept('SET', 'NULL') ? 'SET NULL' : c.accept('SET', 'DEFAULT') ? 'SET DEFAULT' : c.accept('NO', 'ACTION') ? 'NO ACTION' : c.next().text.toUpperCase();
    fk[on] = action;
  }
  return fk;
}

/** Parses SHOW CREATE TABLE text. Throws with the offset of what it cannot read. */
export function parseCreateTable(text: string): TableDef {
  const c = new Cursor(tokenize(text), text);
  if (!c.accept('CREATE')) throw new Error('not a CREATE TABLE statement');
  c.accept('OR', 'REPLACE');
  c.accept('TEMPORARY');
  if (!c.accept('TABLE')) throw new Error('not a CREATE TABLE statement');
  c.accept('IF', 'NOT', 'EXISTS');
  let name = identName(c.next(), 'the table name');
  if (c.isPunct('.')) {
    c.next();
    name = identName(c.next(), 'the table name');
  }
  const table: TableDef = { name, columns: [], primaryKey: [], uniqueKeys: [], indexes: [], foreignKeys: [] };
  c.expectPunct('(');
  for (;;) {
    const t = c.peek();
    if (!t) throw new Error('unterminated column list');
    if (t.kind === 'ident') {
      c.next();
      table.columns.push(column(c, t.text));
    } else if (c.accept('PRIMARY', 'KEY')) {
      table.primaryKey = keyColumns(c);
      skipItem(c);
    } else if (c.accept('UNIQUE', 'KEY') || c.accept('UNIQUE', 'INDEX') || c.accept('UNIQUE')) {
      const keyName = c.isPunct('(') ? null : identName(c.next(), 'a key name');
      const columns = keyColumns(c);
      table.uniqueKeys.push({ name: keyName ?? columns[0] ?? '', columns });
      skipItem(c);
    } else if (c.accept('KEY') || c.accept('INDEX') || c.accept('FULLTEXT', 'KEY') || c.accept('SPATIAL', 'KEY') || c.accept('FULLTEXT') || c.accept('SPATIAL')) {
      const keyName = c.isPunct('(') ? null : identName(c.next(), 'a key name');
      const columns = keyColumns(c);
      table.indexes.push({ name: keyName ?? columns[0] ?? '', columns });
      skipItem(c);
    } else if (c.accept('CONSTRAINT')) {
      const constraint = c.peek()?.kind === 'ident' || (c.peek()?.kind === 'word' && !/^(FOREIGN|CHECK|UNIQUE|PRIMARY)$/i.test(c.peek()?.text ?? '')) ? c.next().text : null;
      if (c.accept('FOREIGN', 'KEY')) {
        if (!c.isPunct('(')) c.next(); // an index name before the column list
        table.foreignKeys.push(foreignKey(c, constraint));
      } else skipItem(c); // CHECK (...)
    } else if (c.accept('FOREIGN', 'KEY')) {
      if (!c.isPunct('(')) c.next();
      table.foreignKeys.push(foreignKey(c, null));
    } else skipItem(c); // CHECK (...), PERIOD FOR ...
    const sep = c.next();
    if (sep.kind === 'punct' && sep.text === ')') break;
    if (sep.kind !== 'punct' || sep.text !== ',') throw new Error(`expected "," or ")" at offset ${sep.start}, found ${JSON.stringify(sep.text)}`);
  }
  return table;
}
