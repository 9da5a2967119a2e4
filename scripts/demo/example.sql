-- A small CSV2-like database: configuration (global), users and clouds (local),
-- scheduler state (ephemeral), and a table of another service (ignore).
CREATE TABLE csv2_configuration (category VARCHAR(32) NOT NULL, config_key VARCHAR(64) NOT NULL, config_type VARCHAR(16), config_value TEXT,
  PRIMARY KEY (category, config_key)) ENGINE=InnoDB;
INSERT INTO csv2_configuration VALUES
  ('web_frontend', 'log_level', 'int', '20'),
  ('csv2_status_poller', 'sleep_interval_status', 'int', '60'),
  ('condor_poller.py', 'retire_interval', 'int', '1024'),
  ('ec2cloudPoller.py', 'default_image', 'str', 'ami-0123 "quoted" ''and'' escaped\\path');
CREATE TABLE csv2_cloud_types (cloud_type VARCHAR(32) PRIMARY KEY) ENGINE=InnoDB;
INSERT INTO csv2_cloud_types VALUES ('amazon'), ('openstack'), ('local');
CREATE TABLE csv2_user (username VARCHAR(32) PRIMARY KEY, cert_cn VARCHAR(128), password VARCHAR(128), is_superuser TINYINT(1) DEFAULT 0,
  join_date DATETIME(6), avatar BLOB) ENGINE=InnoDB;
INSERT INTO csv2_user VALUES ('alice', 'CN=Alice Ämmälä', 'pbkdf2_sha256$150000$aXJ', 1, '2021-03-04 05:06:07.123456', X'89504E470D0A1A0A00'),
  ('bob', NULL, 'pbkdf2_sha256$150000$Ym9', 0, '2022-11-30 23:59:59.000001', NULL);
CREATE TABLE csv2_groups (group_name VARCHAR(32) PRIMARY KEY, htcondor_fqdn VARCHAR(128), job_cpus INT, job_ram INT) ENGINE=InnoDB;
INSERT INTO csv2_groups VALUES ('atlas', 'condor.atlas.example', 8, 16384), ('belle', NULL, 4, 8192);
CREATE TABLE csv2_clouds (group_name VARCHAR(32), cloud_name VARCHAR(32), authurl VARCHAR(256), cores_ctl INT DEFAULT -1, spot_price FLOAT,
  PRIMARY KEY (group_name, cloud_name),
  FOREIGN KEY (group_name) REFERENCES csv2_groups (group_name)) ENGINE=InnoDB;
INSERT INTO csv2_clouds VALUES ('atlas', 'otter', 'https://otter.example:5000/v3', 400, 0.0425), ('belle', 'beaver', 'https://beaver.example/v3', -1, NULL);
CREATE TABLE condor_jobs (global_job_id VARCHAR(128) PRIMARY KEY, group_name VARCHAR(32), job_status INT, entered_current_status BIGINT) ENGINE=InnoDB;
INSERT INTO condor_jobs SELECT CONCAT('condor.atlas#', seq, '.0'), 'atlas', seq MOD 5, 1700000000 + seq FROM seq_1_to_500;
CREATE TABLE csv2_vms (vmid VARCHAR(64) PRIMARY KEY, hostname VARCHAR(128), last_updated BIGINT) ENGINE=InnoDB;
INSERT INTO csv2_vms SELECT CONCAT('vm-', seq), CONCAT('atlas-otter-', seq), 1700000000 FROM seq_1_to_50;
CREATE TABLE django_session (session_key VARCHAR(40) PRIMARY KEY, session_data TEXT, expire_date DATETIME(6)) ENGINE=InnoDB;
INSERT INTO django_session VALUES ('k1', 'e30=', '2030-01-01 00:00:00');
CREATE VIEW view_groups_with_clouds AS SELECT g.group_name, COUNT(c.cloud_name) AS clouds FROM csv2_groups g LEFT JOIN csv2_clouds c USING (group_name) GROUP BY g.group_name;
CREATE TRIGGER csv2_user_default_cn BEFORE INSERT ON csv2_user FOR EACH ROW SET NEW.cert_cn = IFNULL(NEW.cert_cn, CONCAT('CN=', NEW.username));
