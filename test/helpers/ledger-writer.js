#!/usr/bin/env node
/*
 * A consumer that never stops writing during the load test: deposits,
 * transfers and new accounts, each one transaction over three tables linked
 * by foreign keys (ledger -> accounts, ledger_note -> ledger) and by two
 * invariants: every account's balance is the sum of its ledger rows, and
 * every ledger row has exactly one note. Connection from SB_LEDGER_DATABASE
 * on the shared test server. Prints "ready"; on SIGTERM prints the count of
 * transactions and exits 0.
 */
'use strict';
const mysql = require('mysql2/promise');

async function main() {
  const env = process.env;
  const conn = await mysql.createConnection({
    host: env.SB_TEST_HOST || '127.0.0.1',
    port: Number(env.SB_TEST_PORT || 3306),
    user: env.SB_TEST_USER || 'root',
    password: env.SB_TEST_PASSWORD || '',
    database: env.SB_LEDGER_DATABASE,
  });
  let stopping = false;
  process.on('SIGTERM', () => {
    stopping = true;
  });
  const rnd = (n) => Math.floor(Math.random() * n);
  const entry = async (account, amount, note) => {
    const [res] = await conn.query('INSERT INTO ledger (account_id, amount) VALUES (?, ?)', [account, amount]);
    await conn.query('INSERT INTO ledger_note (ledger_id, note) VALUES (?, ?)', [res.insertId, note]);
    await conn.query('UPDATE accounts SET balance = balance + ? WHERE id = ?', [amount, account]);
  };
  let txns = 0;
  process.stdout.write('ready\n');
  while (!stopping) {
    const [[{ n }]] = await conn.query('SELECT COUNT(*) AS n FROM accounts');
    await conn.beginTransaction();
    const op = n < 2 ? 9 : rnd(10);
    if (op < 6) {
      await entry(1 + rnd(n), 1 + rnd(1000), 'deposit');
    } else if (op < 9) {
      const from = 1 + rnd(n);
      const to = 1 + rnd(n);
      const amount = 1 + rnd(500);
      await entry(from, -amount, `transfer to ${to}`);
      await entry(to, amount, `transfer from ${from}`);
    } else {
      const [res] = await conn.query('INSERT INTO accounts (balance) VALUES (0)');
      await entry(res.insertId, 100, 'opening');
    }
    await conn.commit();
    txns++;
  }
  await conn.end();
  process.stdout.write(`transactions ${txns}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`ledger-writer: ${err && err.message ? err.message : err}\n`);
    process.exit(1);
  },
);
