/** Row values: backup literals -> SQLite values (decodeRows) and back (sqlLiteral), exact both ways. */
import Database from 'better-sqlite3';
import type { Codec } from '../../src/sqlite/type-map';
import { RowLineDecoder, scanTupleEnds } from '../../src/sqlite/row-stream';
import { decodeRows, readInsertHead, sqlLiteral, type SqliteValue } from '../../src/sqlite/values';

function decode(stmt: string, codecs: (Codec | null)[]): SqliteValue[][] {
  const b = Buffer.from(stmt, 'utf8');
  const head = readInsertHead(b);
  const rows: SqliteValue[][] = [];
  decodeRows(b, head.rowsAt, codecs, (v) => rows.push([...v]));
  return rows;
}

test('the head: table, optional column list, where the rows start', () => {
  expect(readInsertHead(Buffer.from('INSERT INTO `a``b` VALUES (1)'))).toEqual({ table: 'a`b', columns: null, rowsAt: 26 });
  expect(readInsertHead(Buffer.from('INSERT INTO `t` (`x`,`y``z`) VALUES (1,2)'))).toMatchObject({ table: 't', columns: ['x', 'y`z'] });
  expect(() => readInsertHead(Buffer.from('REPLACE INTO `t` VALUES (1)'))).toThrow(/not an INSERT/);
});

test('every literal the backup writes, in every codec', () => {
  const stmt =
    'INSERT INTO `t` VALUES ' +
    "(-2147483648,18446744073709551615,-99999999999999999999999999999999999.999999999999999999999999999999,3.402820018375656e38,b'1111111111111111111111111111111111111111111111111111111111111111',b'101'," +
    "'quotes \\' \" \\\\ \\n \\r \\0 \\Z \\, ),( end',X'00FF0A27',DEFAULT,'1000-01-01')," +
    "(NULL,9223372036854775807,0.5,-1e-300,b'0',b'',NULL,X'',DEFAULT,'0000-00-00')," +
    "(9223372036854775807,0,'1.50',1.7976931348623157e308,NULL,NULL,'it''s',NULL,DEFAULT,NULL)";
  const rows = decode(stmt, ['integer', 'uint64', 'decimal', 'real', 'bit64', 'bit', 'text', 'blob', null, 'text']);
  expect(rows).toEqual([
    [-2147483648, '18446744073709551615', '-99999999999999999999999999999999999.999999999999999999999999999999', 3.402820018375656e38, '18446744073709551615', 5n, 'quotes \' " \\ \n \r \0 \x1a , ),( end', Buffer.from([0, 0xff, 0x0a, 0x27]), '1000-01-01'],
    [null, 9223372036854775807n, '0.5', -1e-300, 0n, 0n, null, Buffer.alloc(0), '0000-00-00'],
    [9223372036854775807n, 0n, '1.50', 1.7976931348623157e308, null, null, "it's", null, null],
  ]);
});

test('UTF-8 text and raw bytes stay exact', () => {
  const rows = decode("INSERT INTO `t` VALUES ('é ü € 😀 \\\\%',X'C3A9FF00')", ['text', 'blob']);
  expect(rows).toEqual([['é ü € 😀 \\%', Buffer.from('c3a9ff00', 'hex')]]);
  // \% and \_ keep their backslash, as MariaDB reads them.
  expect(decode("INSERT INTO `t` VALUES ('\\%\\_')", ['text'])).toEqual([['\\%\\_']]);
});

test('malformed rows are refused, naming the row and value', () => {
  expect(() => decode('INSERT INTO `t` VALUES (1,2),(3)', ['integer', 'integer'])).toThrow(/row 2: expected ","/);
  expect(() => decode('INSERT INTO `t` VALUES (1.5)', ['integer'])).toThrow(/row 1: value 1: 1.5 is not an integer/);
  expect(() => decode('INSERT INTO `t` VALUES (DEFAULT)', ['integer'])).toThrow(/DEFAULT for a stored column/);
  expect(() => decode("INSERT INTO `t` VALUES ('abc", ['text'])).toThrow(/unterminated/);
  expect(() => decode("INSERT INTO `t` VALUES (X'0')", ['blob'])).toThrow(/malformed/);
  expect(() => decode("INSERT INTO `t` VALUES (b'2')", ['bit'])).toThrow(/not a bit literal/);
});

test('sqlLiteral renders what the backup would, and decoding it gives the value back', () => {
  const cases: [SqliteValue, Codec][] = [
    [null, 'text'],
    [-9223372036854775808n, 'integer'],
    [42n, 'integer'],
    ['18446744073709551615', 'uint64'],
    [9223372036854775807n, 'uint64'],
    ['-0.000000000000000000000000000001', 'decimal'],
    [3.402820018375656e38, 'real'],
    [5e-324, 'real'],
    [0.1, 'real'],
    ['18446744073709551615', 'bit64'],
    [5n, 'bit'],
    ["a\0b\\c'd\r\n\x1a\"),(','é😀", 'text'],
    [Buffer.from([0, 1, 0xff, 0x27, 0x5c]), 'blob'],
  ];
  for (const [v, codec] of cases) {
    const literal = sqlLiteral(v, codec);
    const back = decode(`INSERT INTO \`t\` VALUES (${literal})`, [codec])[0]?.[0];
    // Small integers come back as numbers (INTEGER affinity stores them alike).
    expect(typeof back === 'number' && typeof v === 'bigint' ? BigInt(back) : back).toEqual(v);
  }
  expect(sqlLiteral(3.402820018375656e38, 'real')).toBe('3.402820018375656e+38');
  expect(sqlLiteral(5n, 'bit')).toBe("b'101'");
  expect(sqlLiteral('a\nb', 'text')).toBe("'a\\nb'");
});

test('values edited into an SQLite file never become SQL other than a literal', () => {
  expect(() => sqlLiteral('1); DROP TABLE x; --', 'integer')).toThrow(/not an integer/);
  expect(() => sqlLiteral('1); DROP TABLE x; --', 'decimal')).toThrow(/not a decimal value/);
  expect(() => sqlLiteral('1e3 OR 1', 'uint64')).toThrow(/not an integer/);
  expect(() => sqlLiteral(Number.NaN, 'real')).toThrow(/cannot be stored/);
  expect(sqlLiteral("'); DROP TABLE x; --", 'text')).toBe("'\\'); DROP TABLE x; --'");
  expect(sqlLiteral("x'", 'blob')).toBe("X'7827'");
});

test('SQLite keeps each codec exact through a real file (affinity does not round u64 or decimals)', () => {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE t (u, d TEXT, r REAL, i INTEGER, b BLOB)');
  const rows = decode(
    "INSERT INTO `t` VALUES (18446744073709551615,12345678901234567890.123456789,1.1754900067970481e-38,-9223372036854775808,X'00'),(9223372036854775806,0.10,-3.5,7,X'')",
    ['uint64', 'decimal', 'real', 'integer', 'blob'],
  );
  const insert = db.prepare('INSERT INTO t VALUES (?,?,?,?,?)');
  for (const r of rows) insert.run(r);
  const back = db.prepare('SELECT u, typeof(u) tu, d, r, i, b FROM t ORDER BY rowid').raw(true).safeIntegers(true).all() as SqliteValue[][];
  expect(back).toEqual([
    ['18446744073709551615', 'text', '12345678901234567890.123456789', 1.1754900067970481e-38, -9223372036854775808n, Buffer.from([0])],
    [9223372036854775806n, 'integer', '0.10', -3.5, 7n, Buffer.alloc(0)],
  ]);
  db.close();
});

test('a row line decoded piece by piece, cut anywhere (inside quotes, escapes, hex, between rows), gives the same rows as whole', () => {
  const line = Buffer.from("INSERT INTO `t` VALUES (1,'a),(b\\'c\\\\',X'0A29'),(2,'it''s; ok',NULL),(3,')',X''),(-4,'é😀',X'FF');\n");
  const codecs: Codec[] = ['integer', 'text', 'blob'];
  const whole = decode(line.toString('utf8').trimEnd().slice(0, -1), codecs);
  expect(whole).toHaveLength(4);
  for (const size of [...Array.from({ length: 40 }, (_, i) => i + 1), 1000]) {
    const rows: SqliteValue[][] = [];
    const decoder = new RowLineDecoder(() => codecs, (v) => rows.push([...v]));
    for (let at = 0; at < line.length; at += size) decoder.push(line.subarray(at, at + size), at === 0, at + size >= line.length);
    expect({ size, rows }).toEqual({ size, rows: whole });
    expect(decoder.rows).toBe(4);
  }
  const lastTupleEnd = (text: string): number => scanTupleEnds(Buffer.from(text), 0, { quoted: false, escaped: false });
  expect(lastTupleEnd("(1,')'),(2,'x")).toBe(7);
  expect(lastTupleEnd("(1,'\\')")).toBe(-1);
});

test('a head cut anywhere, its table name holding ` VALUES `, is read once it is whole', () => {
  const line = Buffer.from("INSERT INTO `a VALUES b` (`x`,`y`) VALUES (1,'p'),(2,'q');\n");
  for (let size = 1; size <= 40; size++) {
    const rows: SqliteValue[][] = [];
    const heads: string[] = [];
    const decoder = new RowLineDecoder(
      (head) => {
        heads.push(`${head.table}:${(head.columns ?? []).join(',')}`);
        return ['integer', 'text'];
      },
      (v) => rows.push([...v]),
    );
    for (let at = 0; at < line.length; at += size) decoder.push(line.subarray(at, at + size), at === 0, at + size >= line.length);
    expect({ size, heads, rows }).toEqual({ size, heads: ['a VALUES b:x,y'], rows: [[1, 'p'], [2, 'q']] });
  }
});
