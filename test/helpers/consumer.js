#!/usr/bin/env node
/*
 * A stand-in consumer: writes a row to consumer_writes every ~20 ms until
 * SIGTERM, then exits 0. Connection from SB_CONSUMER_HOST, _PORT, _USER,
 * _PASSWORD, _DATABASE (a test double: the password may come from env).
 * Prints "ready" once the table exists.
 */
'use strict';
const mysql = require('mysql2/promise');

async function main() {
  const env = process.env;
  const conn = await mysql.createConnection({
    host: env.SB_CONSUMER_HOST || '127.0.0.1',
    port: Number(env.SB_CONSUMER_PORT || 3306),
    user: env.SB_CONSUMER_USER || 'root',
    password: env.SB_CONSUMER_PASSWORD || '',
    database: env.SB_CONSUMER_DATABASE,
  });
  await conn.query(
    'CREATE TABLE IF NOT EXISTS consumer_writes (id bigint auto_increment primary key, written_at datetime(6), pid int)',
  );
  let stopping = false;
  process.on('SIGTERM', () => {
    stopping = true;
  });
  process.stdout.write('ready\n');
  while (!stopping) {
    await conn.query('INSERT INTO consumer_writes (written_at, pid) VALUES (NOW(6), ?)', [process.pid]);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await conn.end();
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`consumer: ${err && err.message ? err.message : err}\n`);
    process.exit(1);
  },
);
