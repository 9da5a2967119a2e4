/** The SHOW CREATE TABLE reader and the SQLite table made from it (pure). */
import { parseCreateTable, tokenize } from '../../src/sqlite/create-table';
import { nameProblems, sqliteDefault, sqliteTable } from '../../src/sqlite/schema';
import { mapColumn } from '../../src/sqlite/type-map';

// As MariaDB 10.11 prints them (captured), with the awkward cases added by hand.
const TYPES = `CREATE TABLE \`types_g\` (
  \`id\` int(10) unsigned NOT NULL AUTO_INCREMENT,
  \`bu\` bigint(20) unsigned DEFAULT NULL,
  \`dec65\` decimal(65,30) NOT NULL DEFAULT 0.000000000000000000000000000000,
  \`f\` float DEFAULT -1.5e-10,
  \`bt\` bit(64) DEFAULT b'1010',
  \`b1\` bit(1) NOT NULL DEFAULT b'1',
  \`c\` char(10) CHARACTER SET latin1 COLLATE latin1_swedish_ci DEFAULT 'it''s, (x)',
  \`en\` enum('a','b,c',')') DEFAULT 'a',
  \`js\` longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL CHECK (json_valid(\`js\`)),
  \`gv\` bigint(20) GENERATED ALWAYS AS (\`i\` * 2) VIRTUAL,
  \`gs\` varchar(210) GENERATED ALWAYS AS (concat(\`vc\`,'!')) STORED,
  \`ts\` timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(),
  \`created\` datetime NOT NULL DEFAULT '0000-00-00 00:00:00' COMMENT 'a, comment',
  \`hidden\` int(11) DEFAULT (1 + 1) INVISIBLE,
  \`we\`\`ird\` varchar(5) DEFAULT 'x\\\\y',
  \`pt\` point NOT NULL,
  PRIMARY KEY (\`id\`),
  UNIQUE KEY \`uq_c\` (\`c\`(5),\`en\`),
  UNIQUE KEY \`uq_gs\` (\`gs\`),
  KEY \`k_bu\` (\`bu\` DESC),
  SPATIAL KEY \`sp\` (\`pt\`),
  CONSTRAINT \`chk\` CHECK (\`bu\` > 0)
) ENGINE=InnoDB AUTO_INCREMENT=5 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci`;

const CHILD = `CREATE TABLE \`child\` (
  \`id\` int(11) NOT NULL,
  \`g\` varchar(32) NOT NULL,
  \`c\` varchar(32) NOT NULL,
  \`other\` int(11) DEFAULT NULL,
  \`x\` int(11) DEFAULT NULL,
  PRIMARY KEY (\`id\`),
  KEY \`fk_pc\` (\`g\`,\`c\`),
  CONSTRAINT \`fk_pc\` FOREIGN KEY (\`c\`, \`g\`) REFERENCES \`parent\` (\`cloud\`, \`grp\`) ON DELETE CASCADE ON UPDATE SET NULL,
  CONSTRAINT \`fk_far\` FOREIGN KEY (\`other\`) REFERENCES \`otherdb\`.\`t\` (\`id\`),
  CONSTRAINT \`fk_nonunique\` FOREIGN KEY (\`x\`) REFERENCES \`parent\` (\`n\`) ON DELETE NO ACTION
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`;

const PARENT = `CREATE TABLE \`parent\` (
  \`grp\` varchar(32) NOT NULL,
  \`cloud\` varchar(32) NOT NULL,
  \`n\` int(11) DEFAULT NULL,
  PRIMARY KEY (\`grp\`,\`cloud\`),
  KEY \`n\` (\`n\`)
) ENGINE=InnoDB`;

test('columns: type, arguments, unsigned, NOT NULL, every kind of default, generated and invisible', () => {
  const t = parseCreateTable(TYPES);
  expect(t.name).toBe('types_g');
  const col = (n: string) => t.columns.find((c) => c.name === n);
  expect(t.columns.map((c) => c.name)).toEqual(['id', 'bu', 'dec65', 'f', 'bt', 'b1', 'c', 'en', 'js', 'gv', 'gs', 'ts', 'created', 'hidden', 'we`ird', 'pt']);
  expect(col('id')).toMatchObject({ type: 'int', args: '10', unsigned: true, notNull: true, autoIncrement: true, default: null });
  expect(col('bu')).toMatchObject({ type: 'bigint', unsigned: true, notNull: false, default: { kind: 'null' } });
  expect(col('dec65')).toMatchObject({ args: '65,30', default: { kind: 'number', text: '0.000000000000000000000000000000' } });
  expect(col('f')?.default).toEqual({ kind: 'number', text: '-1.5e-10' });
  expect(col('bt')?.default).toEqual({ kind: 'string', value: '1010', prefix: 'b' });
  expect(col('c')?.default).toEqual({ kind: 'string', value: "it's, (x)", prefix: null });
  expect(col('en')).toMatchObject({ type: 'enum', args: "'a','b,c',')'" });
  expect(col('js')).toMatchObject({ type: 'longtext', default: { kind: 'null' }, generated: false });
  expect(col('gv')).toMatchObject({ generated: true });
  expect(col('gs')).toMatchObject({ generated: true, type: 'varchar' });
  expect(col('ts')?.default).toEqual({ kind: 'expression', text: 'current_timestamp()' });
  expect(col('created')?.default).toEqual({ kind: 'string', value: '0000-00-00 00:00:00', prefix: null });
  expect(col('hidden')).toMatchObject({ invisible: true, default: { kind: 'expression', text: '(1 + 1)' } });
  expect(col('we`ird')?.default).toEqual({ kind: 'string', value: 'x\\y', prefix: null });
});

test('keys: primary, unique (prefix lengths dropped), plain and spatial; CHECK constraints skipped', () => {
  const t = parseCreateTable(TYPES);
  expect(t.primaryKey).toEqual(['id']);
  expect(t.uniqueKeys).toEqual([
    { name: 'uq_c', columns: ['c', 'en'] },
    { name: 'uq_gs', columns: ['gs'] },
  ]);
  expect(t.indexes).toEqual([
    { name: 'k_bu', columns: ['bu'] },
    { name: 'sp', columns: ['pt'] },
  ]);
  expect(t.foreignKeys).toEqual([]);
});

test('foreign keys: columns, referenced table (also in another database) and actions', () => {
  const t = parseCreateTable(CHILD);
  expect(t.foreignKeys).toEqual([
    { name: 'fk_pc', columns: ['c', 'g'], refTable: 'parent', refDatabase: null, refColumns: ['cloud', 'grp'], onDelete: 'CASCADE', onUpdate: 'SET NULL' },
    { name: 'fk_far', columns: ['other'], refTable: 't', refDatabase: 'otherdb', refColumns: ['id'], onDelete: null, onUpdate: null },
    { name: 'fk_nonunique', columns: ['x'], refTable: 'parent', refDatabase: null, refColumns: ['n'], onDelete: 'NO ACTION', onUpdate: null },
  ]);
});

test('unreadable text is refused with where it stopped', () => {
  expect(() => parseCreateTable('CREATE VIEW `v` AS select 1')).toThrow(/not a CREATE TABLE/);
  expect(() => parseCreateTable('CREATE TABLE `t` (`a` int, `b` varchar(3) DEFAULT \'x')).toThrow(/unterminated ' quote/);
  expect(() => parseCreateTable('CREATE TABLE `t` (`a` int')).toThrow(/unexpected end|unterminated/);
  expect(tokenize("b'01' x'0A' _utf8mb4'q'")).toMatchObject([
    { kind: 'string', text: '01', prefix: 'b' },
    { kind: 'string', text: '0A', prefix: 'x' },
    { kind: 'string', text: 'q', prefix: '_utf8mb4' },
  ]);
});

test('the SQLite table: types by affinity, NOT NULL, defaults, keys; generated columns and what SQLite cannot check are left out, with notes', () => {
  const defs = new Map([TYPES, CHILD, PARENT].map((s) => parseCreateTable(s)).map((d) => [d.name, d]));
  const types = sqliteTable(defs.get('types_g')!, defs);
  expect(types.columns.map((c) => c.def.name)).not.toContain('gv');
  expect(types.create).toContain('"id" INTEGER NOT NULL');
  expect(types.create).toMatch(/"bu",\n/); // no declared type: values keep their storage class
  expect(types.create).toContain(`"dec65" TEXT NOT NULL DEFAULT '0.000000000000000000000000000000'`);
  expect(types.create).toContain('"f" REAL DEFAULT -1.5e-10');
  expect(types.create).toContain('"bt" DEFAULT 10');
  expect(types.create).toContain(`"c" TEXT DEFAULT 'it''s, (x)'`);
  expect(types.create).toContain('"ts" TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP');
  expect(types.create).toContain('"we`ird" TEXT DEFAULT \'x\\y\'');
  expect(types.create).toContain('"pt" BLOB NOT NULL');
  expect(types.create).toContain('PRIMARY KEY ("id")');
  expect(types.create).toContain('CONSTRAINT "uq_c" UNIQUE ("c", "en")');
  expect(types.create).not.toContain('uq_gs');
  expect(types.indexes).toEqual(['CREATE INDEX "types_g.k_bu" ON "types_g" ("bu")', 'CREATE INDEX "types_g.sp" ON "types_g" ("pt")']);
  expect(types.notes).toEqual(
    expect.arrayContaining(['generated column gs is not stored (the server recomputes it)', 'column hidden: default (1 + 1) not kept', 'unique key uq_gs on a generated column not kept']),
  );

  const child = sqliteTable(defs.get('child')!, defs);
  // Referenced columns in another order than the parent's key: still that key.
  expect(child.create).toContain('CONSTRAINT "fk_pc" FOREIGN KEY ("c", "g") REFERENCES "parent" ("cloud", "grp") ON DELETE CASCADE ON UPDATE SET NULL');
  expect(child.create).not.toContain('fk_far');
  expect(child.create).not.toContain('fk_nonunique');
  expect(child.notes).toEqual([
    'foreign key fk_far not kept: otherdb.t is not in the backup',
    'foreign key fk_nonunique not kept: SQLite needs the referenced columns to be a primary or unique key of parent',
  ]);
});

test('type mapping: every family to the affinity that keeps it exact', () => {
  const map = (type: string, unsigned = false, args: string | null = null) => {
    const m = mapColumn({ name: 'x', type, args, unsigned, notNull: false, default: null, generated: false, invisible: false, autoIncrement: false });
    return [m.sqliteType, m.codec];
  };
  expect(map('int', true)).toEqual(['INTEGER', 'integer']);
  expect(map('bigint')).toEqual(['INTEGER', 'integer']);
  expect(map('bigint', true)).toEqual(['', 'uint64']);
  expect(map('bit', false, '63')).toEqual(['INTEGER', 'bit']);
  expect(map('bit', false, '64')).toEqual(['', 'bit64']);
  expect(map('decimal', false, '10,2')).toEqual(['TEXT', 'decimal']);
  expect(map('float')).toEqual(['REAL', 'real']);
  expect(map('double')).toEqual(['REAL', 'real']);
  expect(map('datetime')).toEqual(['TEXT', 'text']);
  expect(map('set')).toEqual(['TEXT', 'text']);
  expect(map('varbinary')).toEqual(['BLOB', 'blob']);
  expect(map('multipolygon')).toEqual(['BLOB', 'blob']);
  expect(map('year')).toEqual(['INTEGER', 'integer']);
});

test('defaults SQLite cannot take are reported, not approximated', () => {
  const text = mapColumn({ name: 'x', type: 'varchar', args: '3', unsigned: false, notNull: false, default: null, generated: false, invisible: false, autoIncrement: false });
  expect(sqliteDefault({ kind: 'expression', text: 'uuid()' }, text)).toEqual({ clause: null, lost: 'default uuid() not kept' });
  expect(sqliteDefault({ kind: 'null' }, text)).toEqual({ clause: null, lost: null });
});

test('table names SQLite cannot take or tell apart are named', () => {
  expect(nameProblems(['a', 'B', 'b', 'sqlite_x', '_schema_backup_meta'])).toEqual([
    'tables B and b: SQLite does not tell names apart by case',
    'table sqlite_x: SQLite reserves names starting with sqlite_',
    'table _schema_backup_meta: the export keeps its own table of that name',
  ]);
});
