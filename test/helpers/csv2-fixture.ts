/**
 * A database shaped like a real CSV2 site, for every round-trip test that
 * must hold on real schemas: composite VARCHAR keys, a DOUBLE in a primary
 * key, foreign keys (one to an AUTO_INCREMENT row with id 0), TEXT values of
 * 1-10 KB making tables of several MiB, latin1/utf8mb3/utf16 columns,
 * hyphenated and reserved-word column names, zero dates, NULL next to 'NULL',
 * and values with NUL, quotes, backslashes, CR LF, `),(` and `','` inside.
 * Triggers update other tables; views use other views. With `kinds`, also the
 * data kinds that once did not come back (CSV2_KIND_CLASSES): ENUMs holding
 * their error value, a system-versioned table with history, a sequence.
 */
import type { Connection } from 'mysql2/promise';

export interface Csv2Classes {
  global: string[];
  local: string[];
  ephemeral: string[];
  ignore: string[];
}

export const CSV2_CLASSES: Csv2Classes = {
  global: ['csv2_configuration', 'csv2_service_catalog', 'csv2_attribute_mapping', 'csv2_job_schedulers'],
  local: [
    'csv2_groups',
    'csv2_group_metadata',
    'csv2_group_defaults',
    'csv2_clouds',
    'csv2_cloud_metadata',
    'csv2_user',
    'csv2_user_groups',
    'csv2_cloud_aliases',
    'csv2_keys',
  ],
  ephemeral: ['condor_jobs', 'condor_machines', 'csv2_vms', 'cloud_images', 'cloud_flavors', 'csv2_timestamps'],
  ignore: ['django_session'],
};

/** Values that break naive parsers, as SQL expressions; hostile(n) picks one per row. */
const HOSTILE = [
  "''''", // '
  "'\\\\'", // a backslash
  'CHAR(0 USING utf8mb4)',
  "'a),(b'",
  "''','''", // ','
  "'x'','", // x',
  "','",
  "'\\r\\n'", // CR LF
  "'NULL'",
  "'(,)'",
  "'é ü €'",
  "'\\\\''),(''\\\\'", // \'),('\
];
const hostile = (n: string) => `ELT(1 + ${n} % ${HOSTILE.length}, ${HOSTILE.join(', ')})`;

const SCHEMA = `
CREATE TABLE csv2_configuration (
  category VARCHAR(32) NOT NULL, config_key VARCHAR(64) NOT NULL, config_type VARCHAR(16) NOT NULL DEFAULT 'str',
  config_value VARCHAR(512) NOT NULL, PRIMARY KEY (category, config_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE TABLE csv2_service_catalog (
  provider VARCHAR(64) NOT NULL, host_id DOUBLE NOT NULL, last_updated INT NULL, counter BIGINT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (provider, host_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE csv2_attribute_mapping (
  csv2 VARCHAR(64) NOT NULL PRIMARY KEY, \`os-limits\` VARCHAR(64) NULL, \`key\` VARCHAR(64) NULL, \`order\` INT NULL, htcondor VARCHAR(64) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE TABLE csv2_job_schedulers (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, name VARCHAR(64) NOT NULL UNIQUE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE csv2_groups (
  group_name VARCHAR(32) NOT NULL PRIMARY KEY, htcondor_fqdn VARCHAR(128) NULL, htcondor_container_hostname VARCHAR(128) NULL,
  job_cpus INT NULL, job_ram INT NULL, vm_keep_alive INT NOT NULL DEFAULT 0, public_visibility TINYINT NOT NULL DEFAULT 0,
  metadata_count INT NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE TABLE csv2_group_metadata (
  group_name VARCHAR(32) NOT NULL, metadata_name VARCHAR(64) NOT NULL, enabled TINYINT NOT NULL DEFAULT 1, priority INT NOT NULL DEFAULT 0,
  metadata TEXT NOT NULL, mime_type VARCHAR(128) NOT NULL DEFAULT 'cloud-config',
  PRIMARY KEY (group_name, metadata_name),
  CONSTRAINT fk_gm_group FOREIGN KEY (group_name) REFERENCES csv2_groups (group_name) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE TABLE csv2_group_defaults (
  group_name VARCHAR(32) NOT NULL PRIMARY KEY, scheduler_id INT NOT NULL DEFAULT 0, vm_flavor VARCHAR(64) NULL, vm_image VARCHAR(64) NULL,
  CONSTRAINT fk_gd_scheduler FOREIGN KEY (scheduler_id) REFERENCES csv2_job_schedulers (id),
  CONSTRAINT fk_gd_group FOREIGN KEY (group_name) REFERENCES csv2_groups (group_name) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE TABLE csv2_clouds (
  group_name VARCHAR(32) NOT NULL, cloud_name VARCHAR(32) NOT NULL, authurl VARCHAR(128) NOT NULL, project VARCHAR(128) NOT NULL,
  username VARCHAR(20) NOT NULL, password VARCHAR(128) CHARACTER SET latin1 NOT NULL, region VARCHAR(32) NULL,
  cores_ctl INT NOT NULL DEFAULT -1, ram_ctl INT NOT NULL DEFAULT -1, spot_price FLOAT NULL, cacertificate TEXT NULL,
  created DATETIME NOT NULL DEFAULT '0000-00-00 00:00:00', enabled TINYINT(1) NOT NULL DEFAULT 1,
  PRIMARY KEY (group_name, cloud_name),
  CONSTRAINT fk_c_group FOREIGN KEY (group_name) REFERENCES csv2_groups (group_name) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE TABLE csv2_cloud_metadata (
  group_name VARCHAR(32) NOT NULL, cloud_name VARCHAR(32) NOT NULL, metadata_name VARCHAR(64) NOT NULL, enabled TINYINT NOT NULL DEFAULT 1,
  priority INT NOT NULL DEFAULT 0, metadata TEXT NOT NULL, mime_type VARCHAR(128) NOT NULL DEFAULT 'cloud-config',
  PRIMARY KEY (group_name, cloud_name, metadata_name),
  CONSTRAINT fk_cm_cloud FOREIGN KEY (group_name, cloud_name) REFERENCES csv2_clouds (group_name, cloud_name) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE TABLE csv2_user (
  username VARCHAR(32) NOT NULL PRIMARY KEY, cert_cn VARCHAR(128) NULL, password VARCHAR(128) NOT NULL, is_superuser TINYINT(1) NOT NULL DEFAULT 0,
  join_date DATE NOT NULL DEFAULT '0000-00-00', default_group VARCHAR(32) NULL, flag_global_status TINYINT(1) NOT NULL DEFAULT 0,
  note TEXT CHARACTER SET utf16 NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE TABLE csv2_user_groups (
  username VARCHAR(32) NOT NULL, group_name VARCHAR(32) NOT NULL, PRIMARY KEY (username, group_name),
  CONSTRAINT fk_ug_user FOREIGN KEY (username) REFERENCES csv2_user (username) ON DELETE CASCADE,
  CONSTRAINT fk_ug_group FOREIGN KEY (group_name) REFERENCES csv2_groups (group_name) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE TABLE csv2_cloud_aliases (
  group_name VARCHAR(32) NOT NULL, alias_name VARCHAR(32) NOT NULL, cloud_name VARCHAR(32) NOT NULL,
  PRIMARY KEY (group_name, alias_name, cloud_name)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;
CREATE TABLE csv2_keys (
  group_name VARCHAR(32) NOT NULL, key_name VARCHAR(64) NOT NULL, fingerprint VARBINARY(64) NULL, public_key TEXT NULL,
  PRIMARY KEY (group_name, key_name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE condor_jobs (
  global_job_id VARCHAR(128) NOT NULL PRIMARY KEY, group_name VARCHAR(32) NULL, target_clouds VARCHAR(128) NULL, job_status INT NULL,
  request_cpus INT NULL, request_ram INT NULL, q_date INT NULL, entered_current_status DATETIME NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE TABLE condor_machines (
  name VARCHAR(128) NOT NULL PRIMARY KEY, machine VARCHAR(256) NULL, group_name VARCHAR(32) NULL, condor_host VARCHAR(64) NULL,
  slot_type VARCHAR(32) NULL, total_slots INT NULL, entered_current_state INT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE TABLE csv2_vms (
  group_name VARCHAR(32) NOT NULL, cloud_name VARCHAR(32) NOT NULL, vmid VARCHAR(128) NOT NULL, hostname VARCHAR(128) NULL,
  status VARCHAR(32) NULL, flavor_id VARCHAR(128) NULL, last_updated INT NULL, power_status INT NULL, keep_alive INT NOT NULL DEFAULT 0,
  PRIMARY KEY (group_name, cloud_name, vmid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE TABLE cloud_images (
  group_name VARCHAR(32) NOT NULL, cloud_name VARCHAR(32) NOT NULL, id VARCHAR(128) NOT NULL, name VARCHAR(256) NULL,
  size BIGINT NULL, last_updated INT NULL, PRIMARY KEY (group_name, cloud_name, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE TABLE cloud_flavors (
  group_name VARCHAR(32) NOT NULL, cloud_name VARCHAR(32) NOT NULL, id VARCHAR(128) NOT NULL, name VARCHAR(128) NULL,
  ram INT NULL, cores INT NULL, swap INT NULL, disk INT NULL, PRIMARY KEY (group_name, cloud_name, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE TABLE csv2_timestamps (
  entity VARCHAR(64) NOT NULL PRIMARY KEY, last_updated INT NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE TABLE django_session (
  session_key VARCHAR(40) NOT NULL PRIMARY KEY, session_data LONGTEXT NOT NULL, expire_date DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
`;

/** The tables `kinds: true` adds (kept out of CSV2_CLASSES: db_upgrade never reads them). */
export const CSV2_KIND_CLASSES: Csv2Classes = {
  global: ['csv2_enum_states', 'csv2_job_id_seq'],
  local: ['csv2_user_audit'],
  ephemeral: ['csv2_vm_id_seq'],
  ignore: [],
};

const KINDS_SCHEMA = `
CREATE TABLE csv2_enum_states (
  id INT NOT NULL PRIMARY KEY, with_empty ENUM('', 'up', 'down') NULL, plain ENUM('new', 'running', 'held') NOT NULL DEFAULT 'new'
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE TABLE csv2_user_audit (
  username VARCHAR(32) NOT NULL PRIMARY KEY, role VARCHAR(32) NOT NULL, note VARCHAR(64) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 WITH SYSTEM VERSIONING;
CREATE SEQUENCE csv2_job_id_seq START WITH 1000 INCREMENT BY 7 MINVALUE 10 MAXVALUE 999999 CACHE 5 CYCLE;
CREATE SEQUENCE csv2_vm_id_seq START WITH 5 INCREMENT BY 2 CACHE 0
`;

async function createKinds(conn: Connection): Promise<void> {
  for (const stmt of KINDS_SCHEMA.split(';\n').map((s) => s.trim()).filter(Boolean)) await conn.query(stmt);
  // Non-strict, as an old CSV2 server ran: a non-member stores the ENUM's error value (index 0, read as '').
  await conn.query("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'");
  await conn.query(`INSERT INTO csv2_enum_states VALUES (1, '', 'new'), (2, 'bogus', 'bogus'), (3, 'up', 'running'), (4, NULL, 'held'), (5, 'gone', ''), (6, 'down', 'new')`);
  await conn.query("SET SESSION sql_mode = DEFAULT");
  // History: every user's role changed twice, some users deleted; the history rows have row_end in the past.
  await conn.query(`INSERT INTO csv2_user_audit SELECT CONCAT('user', seq), 'user', IF(seq % 3 = 0, NULL, CONCAT('it''s ', seq)) FROM seq_1_to_40`);
  await conn.query(`UPDATE csv2_user_audit SET role = 'admin' WHERE username LIKE 'user1%'`);
  await conn.query(`UPDATE csv2_user_audit SET note = 'changed), (again' WHERE username LIKE '%2'`);
  await conn.query(`DELETE FROM csv2_user_audit WHERE username LIKE '%5'`);
  for (let i = 0; i < 4; i++) await conn.query('SELECT NEXTVAL(csv2_job_id_seq)');
  await conn.query('SELECT NEXTVAL(csv2_vm_id_seq)');
}

export interface Csv2FixtureOptions {
  /** Also the kinds of CSV2_KIND_CLASSES (an ENUM error value, a system-versioned table, sequences). */
  kinds?: boolean;
  /** Rows of csv2_group_metadata (each 1-10 KB of TEXT): 700 make about 4 MiB. */
  metadataRows?: number;
  /** Rows of condor_jobs (ephemeral). */
  jobs?: number;
}

/** Creates and fills the CSV2-shaped tables, triggers and views in the connection's current database. */
export async function createCsv2Fixture(conn: Connection, options: Csv2FixtureOptions = {}): Promise<void> {
  const metadataRows = options.metadataRows ?? 700;
  const jobs = options.jobs ?? 20_000;
  const groups = 40;
  for (const stmt of SCHEMA.split(';\n').map((s) => s.trim()).filter(Boolean)) await conn.query(stmt);
  // Zero dates and the DOUBLE key need a permissive session, as an old CSV2 server had.
  await conn.query("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'");
  const fill = [
    `INSERT INTO csv2_configuration VALUES
      ('ProcessMonitor','pause','bool','False'), ('ProcessMonitor','sleep_interval_main_long','int','10'),
      ('csv2_main','log_file','str','/var/log/cloudscheduler/csv2_main.log'), ('weird','sep','str','a'',''b'),
      ('weird','tuple','str','x),(y'), ('weird','end','str','q'','), ('weird','only','str',','),
      ('weird','null_word','str','NULL'), ('weird','backslash','str','c:\\\\dir\\\\'), ('weird','quote_end','str','it''s')`,
    `INSERT INTO csv2_configuration SELECT CONCAT('cat', seq % 7), CONCAT('key_', seq), 'str', CONCAT('v', seq, ${hostile('seq')}) FROM seq_1_to_120`,
    `INSERT INTO csv2_service_catalog SELECT CONCAT('csv2-', seq % 5), seq / 7, IF(seq % 3 = 0, NULL, 1700000000 + seq), 18446744073709551615 - seq FROM seq_1_to_200`,
    `INSERT INTO csv2_attribute_mapping SELECT CONCAT('attr_', seq), IF(seq % 2, NULL, CONCAT('lim-', seq)), IF(seq % 3 = 0, 'NULL', CONCAT('k', seq)), seq, CONCAT('Condor', seq) FROM seq_1_to_60`,
    `INSERT INTO csv2_job_schedulers (id, name) VALUES (0, 'none'), (1, 'htcondor'), (2, 'slurm')`,
    `INSERT INTO csv2_groups SELECT CONCAT('group-', seq), CONCAT('condor', seq, '.example.org'), IF(seq % 4 = 0, NULL, CONCAT('c', seq)),
       seq % 8 + 1, 2048 * (seq % 4 + 1), seq % 2 * 600, seq % 2, 0 FROM seq_0_to_${groups - 1}`,
    `INSERT INTO csv2_group_metadata (group_name, metadata_name, enabled, priority, metadata, mime_type)
       SELECT CONCAT('group-', seq % ${groups}), CONCAT('meta-', seq, '.yaml'), seq % 2, seq % 10,
         REPEAT(CONCAT('#cloud-config line ', seq, ' ', ${hostile('seq')}, '\\n'), 30 + seq % 280),
         IF(seq % 5 = 0, 'ucernvm-config', 'cloud-config') FROM seq_1_to_${metadataRows}`,
    `INSERT INTO csv2_group_defaults SELECT CONCAT('group-', seq), seq % 3, IF(seq % 2, NULL, 'm1.small'), IF(seq % 3 = 0, 'NULL', CONCAT('img', seq)) FROM seq_0_to_${groups - 1}`,
    `INSERT INTO csv2_clouds SELECT CONCAT('group-', seq % ${groups}), CONCAT('cloud-', seq), CONCAT('https://keystone', seq, '.example.org:5000/v3'),
       CONCAT('proj', seq), CONCAT('user', seq), CONCAT('pw', seq, ELT(1 + seq % 4, 'é', '''', '\\\\', '),(')), IF(seq % 5 = 0, NULL, 'RegionOne'),
       CAST(seq % 100 AS SIGNED) - 1, seq * 1024, IF(seq % 3 = 0, NULL, seq / 7), IF(seq % 2 = 0, NULL, REPEAT(CONCAT('-----CERT ', seq, '-----\\r\\n'), 40)),
       IF(seq % 6 = 0, '0000-00-00 00:00:00', FROM_UNIXTIME(1600000000 + seq * 3600)), seq % 2 FROM seq_0_to_119`,
    `INSERT INTO csv2_cloud_metadata SELECT group_name, cloud_name, CONCAT('cm-', n.seq), n.seq % 2, n.seq,
       REPEAT(CONCAT('write_files: ', cloud_name, ' ', ${hostile('n.seq')}, '\\n'), 50 + n.seq * 40), 'cloud-config'
       FROM csv2_clouds JOIN seq_1_to_3 n`,
    `INSERT INTO csv2_user SELECT CONCAT('user', seq), IF(seq % 3 = 0, NULL, CONCAT('/C=CA/O=Grid/CN=User ', seq)), SHA2(seq, 256), seq % 10 = 0,
       IF(seq % 7 = 0, '0000-00-00', DATE('2019-01-01') + INTERVAL seq DAY), IF(seq % 4 = 0, NULL, CONCAT('group-', seq % ${groups})), 0,
       IF(seq % 5 = 0, NULL, CONCAT('note ', seq, ' 😀 ', ${hostile('seq')})) FROM seq_1_to_300`,
    `INSERT INTO csv2_user_groups SELECT CONCAT('user', u.seq), CONCAT('group-', (u.seq + g.seq) % ${groups}) FROM seq_1_to_300 u JOIN seq_0_to_2 g`,
    `INSERT INTO csv2_cloud_aliases SELECT CONCAT('group-', seq % ${groups}), CONCAT('alias', seq % 17), CONCAT('cloud-', seq) FROM seq_0_to_119`,
    `INSERT INTO csv2_keys SELECT CONCAT('group-', seq % ${groups}), CONCAT('key-', seq), IF(seq % 4 = 0, NULL, UNHEX(SHA1(seq))), CONCAT('ssh-rsa AAAA', REPEAT(MD5(seq), 10), ' user', seq) FROM seq_1_to_150`,
    `INSERT INTO condor_jobs SELECT CONCAT('schedd.example.org#', seq, '.0#', 1700000000 + seq), CONCAT('group-', seq % ${groups}), IF(seq % 3 = 0, NULL, 'cloud-1,cloud-2'),
       seq % 7, seq % 8 + 1, 2048, 1700000000 + seq, IF(seq % 9 = 0, NULL, FROM_UNIXTIME(1700000000 + seq)) FROM seq_1_to_${jobs}`,
    `INSERT INTO condor_machines SELECT CONCAT('slot1@vm', seq), CONCAT('vm', seq, '.example.org'), CONCAT('group-', seq % ${groups}), 'condor', 'Partitionable', 8, 1700000000 + seq FROM seq_1_to_2000`,
    `INSERT INTO csv2_vms SELECT CONCAT('group-', seq % ${groups}), CONCAT('cloud-', seq % 120), UUID(), CONCAT('vm', seq), 'ACTIVE', 'm1.small', 1700000000 + seq, 1, 0 FROM seq_1_to_3000`,
    `INSERT INTO cloud_images SELECT CONCAT('group-', seq % ${groups}), CONCAT('cloud-', seq % 120), MD5(seq), CONCAT('image ', seq, ${hostile('seq')}), seq * 1048576, 1700000000 FROM seq_1_to_1500`,
    `INSERT INTO cloud_flavors SELECT CONCAT('group-', seq % ${groups}), CONCAT('cloud-', seq % 120), MD5(seq), CONCAT('m', seq % 9, '.flavor'), 2048, 2, 0, 20 FROM seq_1_to_900`,
    `INSERT INTO csv2_timestamps VALUES ('condor_poller', 1700000000), ('openstack_poller', 1700000100)`,
    `INSERT INTO django_session SELECT MD5(seq), REPEAT('x', 100), '2030-01-01 00:00:00' FROM seq_1_to_50`,
  ];
  for (const sql of fill) await conn.query(sql);
  // Triggers that write to other tables (CSV2 keeps counters and timestamps this way).
  await conn.query(`CREATE TRIGGER trg_gm_count AFTER INSERT ON csv2_group_metadata FOR EACH ROW
    UPDATE csv2_groups SET metadata_count = metadata_count + 1 WHERE group_name = NEW.group_name`);
  await conn.query(`CREATE TRIGGER trg_clouds_touch AFTER UPDATE ON csv2_clouds FOR EACH ROW
    INSERT INTO csv2_timestamps VALUES ('clouds', UNIX_TIMESTAMP()) ON DUPLICATE KEY UPDATE last_updated = UNIX_TIMESTAMP()`);
  // Views that use other views.
  await conn.query(`CREATE VIEW view_groups_with_metadata_names AS SELECT g.group_name, COUNT(m.metadata_name) AS n
    FROM csv2_groups g LEFT JOIN csv2_group_metadata m ON m.group_name = g.group_name GROUP BY g.group_name`);
  await conn.query(`CREATE VIEW view_clouds AS SELECT c.group_name, c.cloud_name, v.n AS group_metadata
    FROM csv2_clouds c JOIN view_groups_with_metadata_names v ON v.group_name = c.group_name`);
  await conn.query(`CREATE VIEW view_cloud_status AS SELECT vc.*, (SELECT COUNT(*) FROM csv2_vms vm WHERE vm.group_name = vc.group_name AND vm.cloud_name = vc.cloud_name) AS vms
    FROM view_clouds vc`);
  await conn.query("SET SESSION sql_mode = DEFAULT");
  if (options.kinds) await createKinds(conn);
}

/** Every table of the fixture. */
export function csv2Tables(): string[] {
  return [...CSV2_CLASSES.global, ...CSV2_CLASSES.local, ...CSV2_CLASSES.ephemeral, ...CSV2_CLASSES.ignore];
}
