/**
 * The benchmark's data, built on the server with the SEQUENCE engine
 * (seq_1_to_N): no rows travel from the client.
 */

/** About 300 bytes per row once dumped: INT/BIGINT, utf8mb4 VARCHAR, TEXT, DATETIME, DECIMAL, NULLs. */
export function bigTableSql(table: string, rows: number): string[] {
  return [
    `CREATE TABLE \`${table}\` (
      id INT NOT NULL PRIMARY KEY,
      account BIGINT NOT NULL,
      name VARCHAR(64) CHARACTER SET utf8mb4 NOT NULL,
      email VARCHAR(120) CHARACTER SET utf8mb4 NULL,
      note TEXT CHARACTER SET utf8mb4 NULL,
      created DATETIME NOT NULL,
      amount DECIMAL(12,2) NULL,
      state TINYINT NOT NULL
    ) ENGINE=InnoDB`,
    `INSERT INTO \`${table}\`
      SELECT seq, seq * 7919, CONCAT('name-', seq, ' \u00fc\u20ac o''k'), IF(seq % 3 = 0, NULL, CONCAT('user', seq, '@example.org')),
             IF(seq % 10 = 0, NULL, CONCAT(SHA2(seq, 256), '\\n', SHA2(seq + 1, 256), ' ', SHA1(seq))),
             FROM_UNIXTIME(1600000000 + seq), IF(seq % 7 = 0, NULL, seq / 100), seq % 5
        FROM seq_1_to_${rows}`,
  ];
}

/**
 * A table shape of the benchmark: its statements for a given `--rows` (the
 * base of 1,000,000), the touch that changes one row before each measured
 * run, and how to tell its rows apart in the report.
 */
export interface TableShape {
  /** Case name (`--only`) and table name. */
  name: string;
  label: string;
  /** Rows for a base of `rows` (shapes whose point is their size keep it fixed). */
  rowsFor(rows: number): number;
  sql(rows: number): string[];
  /** Changes one row (the last by key), so each run reads a freshly changed table. */
  touch: string;
}

const touchLast = (table: string) => `UPDATE \`${table}\` SET id = id + 1 ORDER BY id DESC LIMIT 1`;

/**
 * The mixed table: BIGINT key, INT, utf8mb4 VARCHAR with emoji, TEXT of ~150 B,
 * DATETIME, DECIMAL(14,4), DOUBLE, TINYINT, a nullable VARCHAR: ~240 B of SQL a row.
 */
export function mixedTableSql(table: string, rows: number): string[] {
  return [
    `CREATE TABLE \`${table}\` (
      id BIGINT NOT NULL PRIMARY KEY,
      n INT NOT NULL,
      name VARCHAR(64) CHARACTER SET utf8mb4 NOT NULL,
      body TEXT CHARACTER SET utf8mb4 NOT NULL,
      created DATETIME NOT NULL,
      price DECIMAL(14,4) NOT NULL,
      ratio DOUBLE NOT NULL,
      state TINYINT NOT NULL,
      tag VARCHAR(32) NULL
    ) ENGINE=InnoDB CHARACTER SET utf8mb4`,
    `INSERT INTO \`${table}\`
      SELECT seq, (seq * 7919) % 2147483647, CONCAT('user-', seq, ' \u{1F600} \u00fc\u20ac'),
             CONCAT(SHA2(seq, 256), ' it''s\\n', LEFT(SHA2(seq + 1, 256), 78)),
             FROM_UNIXTIME(1600000000 + seq * 13), (seq * 37) % 100000000 / 10000, seq / 7, seq % 100,
             IF(seq % 4 = 0, NULL, CONCAT('tag-', seq % 1000))
        FROM seq_1_to_${rows}`,
  ];
}

/** Numbers only: DOUBLE, FLOAT, DECIMAL(65,30) with all its digits, BIGINT UNSIGNED near its top. */
export function numericTableSql(table: string, rows: number): string[] {
  return [
    `CREATE TABLE \`${table}\` (
      id INT NOT NULL PRIMARY KEY,
      d DOUBLE NOT NULL,
      d2 DOUBLE NULL,
      f FLOAT NOT NULL,
      exact DECIMAL(65,30) NOT NULL,
      u BIGINT UNSIGNED NOT NULL
    ) ENGINE=InnoDB`,
    `INSERT INTO \`${table}\`
      SELECT seq, seq * PI() / 3, IF(seq % 9 = 0, NULL, SQRT(seq) * 1e-5), seq / 3,
             CAST(CONCAT(seq * 104729, '.', LPAD((seq * 7919) % 1000000007, 30, '0')) AS DECIMAL(65,30)),
             18446744073709551615 - seq * 12345
        FROM seq_1_to_${rows}`,
  ];
}

/** Wide text: a composite VARCHAR key and 7,000-byte TEXT values (quotes and newlines to escape). */
export function wideTextTableSql(table: string, rows: number): string[] {
  return [
    `CREATE TABLE \`${table}\` (
      tenant VARCHAR(32) NOT NULL,
      name VARCHAR(128) NOT NULL,
      rev INT NOT NULL,
      body TEXT NOT NULL,
      PRIMARY KEY (tenant, name)
    ) ENGINE=InnoDB CHARACTER SET utf8mb4`,
    `INSERT INTO \`${table}\`
      SELECT CONCAT('tenant-', seq % 17), CONCAT('document/', LPAD(seq, 8, '0'), '.yaml'), 1,
             LEFT(REPEAT(CONCAT(SHA2(seq, 256), ' it''s\\n'), 100), 7000)
        FROM seq_1_to_${rows}`,
  ];
}

/** Narrow: an INT key and two INTs. */
export function narrowTableSql(table: string, rows: number): string[] {
  return [
    `CREATE TABLE \`${table}\` (id INT NOT NULL PRIMARY KEY, a INT NOT NULL, b INT NULL) ENGINE=InnoDB`,
    `INSERT INTO \`${table}\` SELECT seq, (seq * 7919) % 1000003, IF(seq % 5 = 0, NULL, seq % 1000) FROM seq_1_to_${rows}`,
  ];
}

/** 20 MiB of 7,000-byte values. */
const WIDE_ROWS = Math.ceil((20 * 1024 * 1024) / 7000);

export const SHAPES: readonly TableShape[] = [
  { name: 'big', label: 'big table', rowsFor: (r) => r, sql: (r) => bigTableSql('big', r), touch: touchLast('big') },
  { name: 'mixed', label: 'mixed table', rowsFor: (r) => r, sql: (r) => mixedTableSql('mixed', r), touch: touchLast('mixed') },
  { name: 'numeric', label: 'numeric-heavy', rowsFor: (r) => r, sql: (r) => numericTableSql('numeric', r), touch: touchLast('numeric') },
  {
    name: 'wide',
    label: 'wide text (20 MiB)',
    // Its point is the size of each value, not the row count: fixed whatever --rows says.
    rowsFor: () => WIDE_ROWS,
    sql: (r) => wideTextTableSql('wide', r),
    touch: 'UPDATE `wide` SET rev = rev + 1 ORDER BY tenant DESC, name DESC LIMIT 1',
  },
  { name: 'narrow', label: 'narrow (3 INTs)', rowsFor: (r) => 5 * r, sql: (r) => narrowTableSql('narrow', r), touch: touchLast('narrow') },
];

export function shapeNamed(name: string): TableShape {
  const shape = SHAPES.find((s) => s.name === name);
  if (!shape) throw new Error(`no table shape ${name}`);
  return shape;
}

export interface SiteShape {
  global: string[];
  local: string[];
  ephemeral: string[];
  statements: string[];
}

/**
 * About 60 tables shaped like a CSV2 database: a dozen small global tables,
 * a dozen local tables of a few thousand rows (some with TEXT of a few KB),
 * thirty ephemeral tables of 10^4 to 10^5 rows (structure only), a few views
 * and triggers.
 */
export function siteSql(): SiteShape {
  const shape: SiteShape = { global: [], local: [], ephemeral: [], statements: [] };
  const s = shape.statements;
  for (let i = 1; i <= 12; i++) {
    const t = `csv2_global_${String(i).padStart(2, '0')}`;
    shape.global.push(t);
    s.push(`CREATE TABLE ${t} (id INT NOT NULL PRIMARY KEY, name VARCHAR(64) NOT NULL, value VARCHAR(255) NULL, flag TINYINT(1) NOT NULL DEFAULT 0) ENGINE=InnoDB`);
    s.push(`INSERT INTO ${t} SELECT seq, CONCAT('${t}-', seq), IF(seq % 4 = 0, NULL, REPEAT('v', seq % 50)), seq % 2 FROM seq_1_to_${10 * i}`);
  }
  for (let i = 1; i <= 12; i++) {
    const t = `csv2_local_${String(i).padStart(2, '0')}`;
    shape.local.push(t);
    const text = i % 3 === 0;
    s.push(
      `CREATE TABLE ${t} (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, group_name VARCHAR(32) NOT NULL, cloud VARCHAR(64) NOT NULL, ` +
        `${text ? 'yaml TEXT NULL, ' : ''}updated DATETIME NOT NULL, cores INT NULL, KEY (group_name)) ENGINE=InnoDB`,
    );
    s.push(
      `INSERT INTO ${t} SELECT seq, CONCAT('g', seq % 17), CONCAT('cloud-', seq % 101), ` +
        `${text ? "IF(seq % 5 = 0, NULL, REPEAT(CONCAT(SHA2(seq, 256), '\\n'), 40)), " : ''}FROM_UNIXTIME(1650000000 + seq * 60), seq % 64 FROM seq_1_to_${1000 * (1 + (i % 5))}`,
    );
  }
  for (let i = 1; i <= 30; i++) {
    const t = `csv2_ephemeral_${String(i).padStart(2, '0')}`;
    shape.ephemeral.push(t);
    const rows = 10_000 + Math.round((90_000 * (i - 1)) / 29);
    s.push(`CREATE TABLE ${t} (id BIGINT NOT NULL PRIMARY KEY, vm VARCHAR(64) NOT NULL, state VARCHAR(16) NULL, last_seen DATETIME NOT NULL, load_avg DOUBLE NULL) ENGINE=InnoDB`);
    s.push(`INSERT INTO ${t} SELECT seq, CONCAT('vm-', seq), ELT(1 + seq % 4, 'running', 'idle', NULL, 'error'), FROM_UNIXTIME(1700000000 + seq), seq / 7 FROM seq_1_to_${rows}`);
  }
  for (let i = 1; i <= 4; i++) {
    s.push(`CREATE VIEW view_${i} AS SELECT g.id, g.name, l.cloud FROM csv2_global_0${i} g JOIN csv2_local_0${i} l ON l.id = g.id`);
  }
  for (let i = 1; i <= 3; i++) {
    s.push(`CREATE TRIGGER trg_${i} BEFORE INSERT ON csv2_local_0${i} FOR EACH ROW SET NEW.cores = IFNULL(NEW.cores, 0)`);
  }
  return shape;
}
