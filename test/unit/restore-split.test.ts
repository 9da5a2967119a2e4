import { StatementSplitter, splitStatements } from '../../src/restore/split';

/** Feeds `text` in pieces of `size` bytes (chunk boundaries anywhere, even inside a multi-byte character). */
function splitInChunks(text: string, size: number): string[] {
  const s = new StatementSplitter();
  const input = Buffer.from(text, 'utf8');
  const out: Buffer[] = [];
  for (let i = 0; i < input.length; i += size) out.push(...s.push(input.subarray(i, i + size)));
  out.push(...s.end());
  return out.map((b) => b.toString('utf8'));
}

const HOSTILE = [
  "/*!40101 SET NAMES utf8mb4 */;",
  '-- a comment with a quote \' and a ; semicolon',
  '# another; comment \'',
  '/* block ; comment \' */',
  'CREATE TABLE `we;ird``name` (`a;` int) ENGINE=InnoDB;',
  '-- Rows',
  "INSERT INTO `we;ird``name` (`a;`) VALUES",
  "('it''s; fine'),",
  "('back\\\\slash\\' quote; \\\\'),",
  "('new\nline;\n-- not a comment\n/* nor this */'),",
  "('DELIMITER ;;'),",
  "(\"double \\\" ; quoted\"),",
  "('\\0 nul and emoji 😀 ; ü'),",
  "(-1--2),",
  "(X'00ff3b27');",
  '',
  '-- Triggers',
  'DELIMITER ;;',
  "/*!50003 SET SESSION SQL_MODE='STRICT_TRANS_TABLES' */;;",
  "CREATE DEFINER=`root`@`localhost` TRIGGER `t;g` BEFORE INSERT ON `x` FOR EACH ROW BEGIN",
  "  SET NEW.a = 'y;;z';",
  "  SET NEW.b = 1; -- inner ;; comment",
  'END ;;',
  'DELIMITER ;',
  '/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;',
  '',
].join('\n');

const EXPECTED = [
  '/*!40101 SET NAMES utf8mb4 */',
  'CREATE TABLE `we;ird``name` (`a;` int) ENGINE=InnoDB',
  "INSERT INTO `we;ird``name` (`a;`) VALUES\n('it''s; fine'),\n('back\\\\slash\\' quote; \\\\'),\n('new\nline;\n-- not a comment\n/* nor this */'),\n('DELIMITER ;;'),\n(\"double \\\" ; quoted\"),\n('\\0 nul and emoji 😀 ; ü'),\n(-1--2),\n(X'00ff3b27')",
  "/*!50003 SET SESSION SQL_MODE='STRICT_TRANS_TABLES' */",
  "CREATE DEFINER=`root`@`localhost` TRIGGER `t;g` BEFORE INSERT ON `x` FOR EACH ROW BEGIN\n  SET NEW.a = 'y;;z';\n  SET NEW.b = 1; -- inner ;; comment\nEND",
  '/*!40101 SET SQL_MODE=@OLD_SQL_MODE */',
];

describe('StatementSplitter', () => {
  test('splits hostile text: quotes, escapes, comments, DELIMITER blocks', () => {
    expect(splitStatements(HOSTILE)).toEqual(EXPECTED);
  });

  test.each([1, 2, 3, 7, 64, 4096])('gives the same statements whatever the chunk size (%i bytes)', (size) => {
    expect(splitInChunks(HOSTILE, size)).toEqual(EXPECTED);
  });

  test('a last statement without delimiter is kept; an unterminated string is an error', () => {
    expect(splitStatements('SELECT 1; SELECT 2')).toEqual(['SELECT 1', 'SELECT 2']);
    expect(() => splitStatements("INSERT INTO t VALUES ('oops;")).toThrow(/unterminated/);
  });

  test('every byte value inside a string literal survives (binary-safe)', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('latin1').replace(/\\/g, '\\\\').replace(/'/g, "\\'");
    const stmt = `INSERT INTO t VALUES ('${all}')`;
    const out = new StatementSplitter();
    const input = Buffer.from(`${stmt};\nSELECT 1;`, 'latin1');
    const got = [...out.push(input), ...out.end()];
    expect(got.map((b) => b.toString('latin1'))).toEqual([stmt, 'SELECT 1']);
  });

  test('/*! executable */ comments stay in the statement; a plain block comment between statements is dropped', () => {
    expect(splitStatements('/* x; */ /*!50003 DROP TRIGGER IF EXISTS `a` */;\n/*M!100100 SET x=1 */;')).toEqual([
      '/*!50003 DROP TRIGGER IF EXISTS `a` */',
      '/*M!100100 SET x=1 */',
    ]);
  });
});

describe('long statements fed in small chunks', () => {
  test('a 4 MiB one-line INSERT and its neighbours come out whole, and statements handed out stay intact', () => {
    const rows = Array.from({ length: 40000 }, (_, i) => `(${i},'v${i};'),(x)`.slice(0, -4)).join(',');
    const big = `INSERT INTO \`t\` VALUES ${rows};`;
    expect(big.length).toBeGreaterThan(500_000);
    const text = Buffer.from(`SET NAMES utf8mb4;\n${big}\n${big.replace('`t`', '`u`')}\nSELECT 1;\n`);
    const splitter = new StatementSplitter();
    const got: Buffer[] = [];
    const copies: string[] = [];
    for (let at = 0; at < text.length; at += 1000) {
      for (const stmt of splitter.push(text.subarray(at, at + 1000))) {
        got.push(stmt);
        copies.push(stmt.toString('utf8'));
      }
    }
    got.push(...splitter.end());
    copies.push(...got.slice(copies.length).map((b) => b.toString('utf8')));
    expect(copies).toEqual(['SET NAMES utf8mb4', big.slice(0, -1), big.replace('`t`', '`u`').slice(0, -1), 'SELECT 1']);
    // The buffers handed out earlier were not written over by later pushes.
    expect(got.map((b) => b.toString('utf8'))).toEqual(copies);
  });
});

test('a reusing splitter gives the same statements from one buffer', () => {
  const big = `INSERT INTO \`t\` VALUES ${Array.from({ length: 30000 }, (_, i) => `(${i},'x;y')`).join(',')};`;
  const text = Buffer.from(`SET NAMES utf8mb4;\n${big}\n${big}\nSELECT 1;\n`);
  const plain = new StatementSplitter();
  const reusing = new StatementSplitter({ reuse: true });
  const a: string[] = [];
  const b: string[] = [];
  const buffers = new Set<ArrayBufferLike>();
  for (let at = 0; at < text.length; at += 4096) {
    const chunk = text.subarray(at, at + 4096);
    for (const s of plain.push(chunk)) a.push(s.toString());
    for (const s of reusing.push(Buffer.from(chunk))) {
      b.push(s.toString());
      buffers.add(s.buffer);
    }
  }
  a.push(...plain.end().map(String));
  b.push(...reusing.end().map(String));
  expect(b).toEqual(a);
  expect(a).toHaveLength(4);
  // The long statements grew one buffer (a few doublings at the start), not a new series each.
  expect(buffers.size).toBeLessThanOrEqual(12);
});

describe('insertLines: the one-line layout, each INSERT found by its newline', () => {
  // The layout a manifest with statementBytes promises: every INSERT one line ending in `;`, raw newlines escaped.
  const LAYOUT = [
    '-- schema_backup table: structure and rows',
    "/*!40101 SET NAMES utf8mb4 */;",
    'DROP TABLE IF EXISTS `t`;',
    'CREATE TABLE `t` (',
    '  `id` int(11) NOT NULL,',
    "  `v` text DEFAULT 'a;b',",
    '  PRIMARY KEY (`id`)',
    ') ENGINE=InnoDB;',
    '-- Rows',
    "INSERT INTO `t` VALUES (1,'semi; colon'),(2,'it\\'s \\\\'),(3,'line\\nbreak;\\n'),(4,'a)\\,(b'),(5,NULL);",
    "INSERT INTO `t` VALUES (6,'😀 ü'),(7,'-- not a comment /* nor this */');",
    '-- Triggers',
    'DELIMITER ;;',
    "CREATE TRIGGER `g` BEFORE INSERT ON `t` FOR EACH ROW BEGIN",
    "  INSERT INTO `log` VALUES (NEW.id);",
    'END ;;',
    'DELIMITER ;',
    '/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;',
    '',
  ].join('\n');

  const split = (text: string, size: number, options: ConstructorParameters<typeof StatementSplitter>[0]): string[] => {
    const s = new StatementSplitter(options);
    const input = Buffer.from(text, 'utf8');
    const out: string[] = [];
    for (let i = 0; i < input.length; i += size) out.push(...s.push(Buffer.from(input.subarray(i, i + size))).map(String));
    out.push(...s.end().map(String));
    return out;
  };

  test.each([1, 2, 3, 7, 64, 4096])('gives the statements the full scan gives (%i-byte chunks, plain and reusing)', (size) => {
    const full = splitStatements(LAYOUT);
    expect(full.filter((s) => s.startsWith('INSERT INTO `t`'))).toHaveLength(2);
    expect(split(LAYOUT, size, { insertLines: true })).toEqual(full);
    expect(split(LAYOUT, size, { insertLines: true, reuse: true })).toEqual(full);
  });

  test('a last INSERT line without a newline after it is kept', () => {
    const text = "SET NAMES utf8mb4;\nINSERT INTO `t` VALUES (1,'x');  ";
    expect(split(text, 5, { insertLines: true })).toEqual(['SET NAMES utf8mb4', "INSERT INTO `t` VALUES (1,'x')"]);
  });

  test('spaces or a CR before the newline are allowed mid-file, as at its end', () => {
    const text = "INSERT INTO `t` VALUES (1,'a');\r\nINSERT INTO `t` VALUES (2,'b'); \nSET NAMES utf8mb4;\nINSERT INTO `t` VALUES (3,'c'); \r\n";
    for (const size of [1, 3, 4096]) {
      expect(split(text, size, { insertLines: true })).toEqual(["INSERT INTO `t` VALUES (1,'a')", "INSERT INTO `t` VALUES (2,'b')", 'SET NAMES utf8mb4', "INSERT INTO `t` VALUES (3,'c')"]);
    }
  });

  test('an INSERT line that does not end in ; is refused, naming the statement (not loaded as two)', () => {
    const raw = "SET NAMES utf8mb4;\nINSERT INTO `t` VALUES (1,'raw\nnewline');\n";
    expect(() => split(raw, 4096, { insertLines: true })).toThrow(/INSERT line that does not end in ';' \(statement 2\)/);
    expect(() => split("INSERT INTO `t` VALUES (1,'x')", 4096, { insertLines: true })).toThrow(/statement 1/);
    // Without the promise of the layout, the full scan reads the same text as one statement.
    expect(splitStatements(raw)).toEqual(['SET NAMES utf8mb4', "INSERT INTO `t` VALUES (1,'raw\nnewline')"]);
  });
});
