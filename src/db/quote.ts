/**
 * The one function through which every identifier reaches SQL. Names come from
 * the server or from configuration; either way they are quoted here and
 * nowhere else, so hostile names (backticks, quotes, NUL) cannot escape.
 */
export function quoteIdent(name: string): string {
  if (name.length === 0) throw new Error('empty identifier');
  if (name.includes('\0')) throw new Error(`identifier contains NUL: ${JSON.stringify(name)}`);
  return '`' + name.replace(/`/g, '``') + '`';
}

/** A qualified `db`.`table`. */
export function quoteQualified(database: string, name: string): string {
  return `${quoteIdent(database)}.${quoteIdent(name)}`;
}

/** A string literal for SQL text we generate ourselves (not for row data: the server quotes that). */
export function quoteString(value: string): string {
  return "'" + value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\0/g, '\\0').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\x1a/g, '\\Z') + "'";
}
