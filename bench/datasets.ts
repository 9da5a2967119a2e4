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
