/** Staging inside the target database (pure): names, the staging CREATE TABLE without foreign keys, redirected INSERTs. */
import { foreignKeyName, isLeftover, parkedName, stagingCreate, stagingInsert, stagingName } from '../../src/restore/staging';

const CREATE = [
  'CREATE TABLE `it``em` (',
  '  `id` int(11) NOT NULL,',
  "  `note` varchar(20) DEFAULT 'a,b (c)',",
  '  `owner` int(11) DEFAULT NULL,',
  '  PRIMARY KEY (`id`),',
  '  KEY `owner` (`owner`),',
  '  CONSTRAINT `fk,owner` FOREIGN KEY (`owner`) REFERENCES `owner` (`id`) ON DELETE CASCADE,',
  '  CONSTRAINT `it``em_ibfk_2` FOREIGN KEY (`id`) REFERENCES `other` (`id`),',
  '  CONSTRAINT `positive` CHECK (`id` > 0)',
  ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci',
].join('\n');

test('staging names are short, plain, per run and per table, and recognised as leftovers', () => {
  const long = 'x'.repeat(64);
  expect(stagingName('0123abcd', long)).toMatch(/^_sbr_0123abcd_[0-9a-f]{16}$/);
  expect(parkedName('0123abcd', long)).toMatch(/^_sbo_0123abcd_[0-9a-f]{16}$/);
  expect(stagingName('0123abcd', 'a')).not.toBe(stagingName('0123abcd', 'b'));
  expect(stagingName('0123abcd', 'a')).not.toBe(stagingName('89abcdef', 'a'));
  expect(isLeftover(stagingName('0123abcd', 'a'))).toBe(true);
  expect(isLeftover(parkedName('0123abcd', 'a'))).toBe(true);
  expect(isLeftover('_sbr_users')).toBe(false);
});

test('the staging CREATE TABLE has the staging name and no foreign keys; they come back as ADD-able items', () => {
  const { create, foreignKeys } = stagingCreate(CREATE, 'it`em', '_sbr_x');
  expect(create).toBe(
    [
      'CREATE TABLE `_sbr_x` (',
      '  `id` int(11) NOT NULL,',
      "  `note` varchar(20) DEFAULT 'a,b (c)',",
      '  `owner` int(11) DEFAULT NULL,',
      '  PRIMARY KEY (`id`),',
      '  KEY `owner` (`owner`),',
      '  CONSTRAINT `positive` CHECK (`id` > 0)',
      ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci',
    ].join('\n'),
  );
  expect(foreignKeys).toEqual([
    'CONSTRAINT `fk,owner` FOREIGN KEY (`owner`) REFERENCES `owner` (`id`) ON DELETE CASCADE',
    'CONSTRAINT `it``em_ibfk_2` FOREIGN KEY (`id`) REFERENCES `other` (`id`)',
  ]);
  expect(foreignKeys.map(foreignKeyName)).toEqual(['fk,owner', 'it`em_ibfk_2']);
  // A foreign key as the last item: the closing line keeps its shape.
  const last = stagingCreate('CREATE TABLE `c` (\n  `p` int(11),\n  CONSTRAINT `f` FOREIGN KEY (`p`) REFERENCES `c` (`p`)\n) ENGINE=InnoDB', 'c', 's');
  expect(last.create).toBe('CREATE TABLE `s` (\n  `p` int(11)\n) ENGINE=InnoDB');
});

test('a CREATE TABLE of another table is refused (staging shares the database with live tables)', () => {
  expect(() => stagingCreate(CREATE, 'item', '_sbr_x')).toThrow(/creates table `it``em`, not `item`/);
  expect(() => stagingCreate('DROP TABLE `x`', 'x', 's')).toThrow(/not a CREATE TABLE/);
});

/** The queries a redirected INSERT becomes: head + each piece of its rows, as bytes. */
function queries(stmt: Buffer, table: string, staging: string, pieceBytes: number | null): Buffer[] {
  const insert = stagingInsert(stmt, table, staging, pieceBytes);
  return [...insert.pieces].map(([from, to]) => Buffer.concat([insert.head, stmt.subarray(from, to)]));
}

test('INSERTs are redirected whatever follows the name: one statement of many rows, no column list, DEFAULT for generated columns', () => {
  const rows = Array.from({ length: 2000 }, (_, i) => `(${i},'a;b\\'c\nd',DEFAULT)`).join(',');
  const stmt = Buffer.from(`INSERT INTO \`it\`\`em\` VALUES ${rows}`);
  expect(queries(stmt, 'it`em', '_sbr_x', null).map(String)).toEqual([`INSERT INTO \`_sbr_x\` VALUES ${rows}`]);
  expect(queries(Buffer.from('INSERT INTO `ü` (`a`,`b`) VALUES\n(1,2)'), 'ü', 's', null).map(String)).toEqual(['INSERT INTO `s` (`a`,`b`) VALUES\n(1,2)']);
  // Row bytes pass as they are: what goes on the wire is exactly the file's bytes.
  const utf = Buffer.from("INSERT INTO `t` VALUES (1,'ü€😀')", 'utf8');
  expect(queries(utf, 't', 's', null)[0]?.equals(Buffer.concat([Buffer.from('INSERT INTO `s`'), utf.subarray('INSERT INTO `t`'.length)]))).toBe(true);
  expect(() => stagingInsert(Buffer.from('INSERT INTO `live` VALUES (1)'), 'item', 's', null)).toThrow(/writes table `live`/);
  expect(() => stagingInsert(Buffer.from('INSERT INTO `db`.`item` VALUES (1)'), 'db', 's', 1024)).toThrow(/writes table `db`/);
});

test('a one-line INSERT is cut into pieces between rows only: every row once, in order, each piece a whole INSERT', () => {
  // Values holding what a cut must not fall on: `)\,(` inside a string, quotes, emoji.
  const values = Array.from({ length: 500 }, (_, i) => `(${i},'v${i} )\\,( \\' 😀',NULL)`);
  const stmt = Buffer.from(`INSERT INTO \`t\` (\`a\`,\`b\`,\`c\`) VALUES ${values.join(',')}`);
  for (const pieceBytes of [1, 100, 4096, 1 << 20]) {
    const pieces = queries(stmt, 't', '_sbr_s', pieceBytes).map((b) => b.toString('utf8'));
    const head = 'INSERT INTO `_sbr_s` (`a`,`b`,`c`) VALUES ';
    expect(pieces.every((p) => p.startsWith(head))).toBe(true);
    expect(pieces.map((p) => p.slice(head.length)).join(',')).toBe(values.join(','));
    // At least pieceBytes of rows in each piece but the last: a row each for 1 byte, one piece for 1 MiB.
    if (pieceBytes === 1) expect(pieces).toHaveLength(values.length);
    if (pieceBytes === 1 << 20) expect(pieces).toHaveLength(1);
    expect(pieces.slice(0, -1).every((p) => Buffer.byteLength(p) - head.length >= pieceBytes)).toBe(true);
    if (pieceBytes === 100) expect(pieces.length).toBeGreaterThan(50);
  }
  expect(() => stagingInsert(Buffer.from('INSERT INTO `t` SELECT 1'), 't', 's', 100)).toThrow(/VALUES/);
});
