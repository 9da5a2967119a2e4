/** A CSV2-like csv2_configuration (the columns the pause flag uses, and a few other rows) for the pause-flag tests. */

export const CSV2_CONFIGURATION =
  'CREATE TABLE csv2_configuration (category varchar(32) NOT NULL, config_key varchar(32) NOT NULL, ' +
  "config_type varchar(16) NOT NULL DEFAULT 'str', config_value varchar(128) DEFAULT NULL, PRIMARY KEY (category, config_key)) ENGINE=InnoDB";

/** The flag ('False'), two other settings, a value with a quote, a backslash, non-ASCII and a newline, and a NULL. */
export const CSV2_ROWS =
  "INSERT INTO csv2_configuration VALUES ('ProcessMonitor','pause','bool','False'), ('ProcessMonitor','sleep_interval_main_long','int','10')," +
  "('csv2-main','log_level','int','20'), ('web','motd','str','it''s \\\\ é\\nnew line'), ('web','empty','str',NULL)";
