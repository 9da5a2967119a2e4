/**
 * A restore case: one table backed up once by each tool (unmeasured), then
 * loaded into a fresh database, run after run: schema_restore (the CLI, as an
 * operator runs it) against `mariadb DB < dump.sql` (mariadb-dump's file) and
 * `myloader -t 2` (mydumper -t 2 --rows 200000's directory). Every load is
 * checked for its row count, so a fast failure cannot pass for a fast restore.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import type { TableShape } from './datasets';
import { measure, summarize, type Sample } from './measure';
import { MYDUMPER_CHUNK_ROWS, PEER, mariadbDump, mariadbLoad, myloader, mydumper } from './peers';
import type { Row } from './report';
import { benchDatabase, writeBenchConfig, type BenchDb } from './setup';
import { mb, type ShapeContext } from './shape-case';
import { RESTORE_CLI, operatorEnv, ours } from './steady-root';
import type { DbCredentials } from '../src/config/types';

const TARGET = 'sb_bench_restore';
const GOAL = { text: '<=1.0x myloader -t 2; RSS<=150MB', against: [PEER.myloader2], limit: 1.0, rssLimitMb: 150 };

async function rowCount(admin: Connection, database: string, table: string): Promise<number> {
  const [rows] = (await admin.query(`SELECT COUNT(*) AS n FROM \`${database}\`.\`${table}\``)) as unknown as [{ n: number }[]];
  return Number(rows[0].n);
}

export async function runRestore(ctx: ShapeContext, shape: TableShape, expectedRows: number, source: BenchDb, base: DbCredentials, credsDir: string): Promise<{ rows: Row[]; data: unknown }> {
  const { admin, scratch } = ctx;
  const table = shape.name;
  const root = await mkdtemp(join(scratch, `restore-${table}-`));
  const dumpFile = join(root, 'dump.sql');
  const dumpDir = join(root, 'mydumper');
  const samples: Record<'ours' | 'stock' | 'myloader', Sample[]> = { ours: [], stock: [], myloader: [] };
  const fresh = async (): Promise<BenchDb> => {
    await admin.query(`DROP DATABASE IF EXISTS \`${TARGET}\``);
    return benchDatabase(admin, base, TARGET, credsDir);
  };
  const check = async (tool: string) => {
    const n = await rowCount(admin, TARGET, table);
    if (n !== expectedRows) throw new Error(`restore ${table} by ${tool}: ${n} rows loaded, ${expectedRows} expected`);
  };
  try {
    const conf = await writeBenchConfig({ root: join(root, 'ours'), db: source, local: [table] });
    await ours(conf.file, source, scratch);
    await mariadbDump(source, [table], dumpFile, scratch);
    if (ctx.mydumper) await mydumper(source, table, dumpDir, scratch, 2, MYDUMPER_CHUNK_ROWS);
    for (let i = 0; i < ctx.runs; i++) {
      await admin.query(`DROP DATABASE IF EXISTS \`${TARGET}\``);
      samples.ours.push(
        await measure(process.execPath, [RESTORE_CLI, '--config', conf.file, '--db-config', source.credentialsFile, '--host-name', 'bench', '--database', TARGET, '--tables', table, '--online'], scratch, { env: operatorEnv() }),
      );
      await check('schema_restore');
      const target = await fresh();
      samples.stock.push(await mariadbLoad(target, dumpFile, scratch));
      await check('mariadb');
      if (ctx.mydumper) {
        await fresh();
        samples.myloader.push(await myloader(target, dumpDir, scratch, 2));
        await check('myloader');
      }
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS \`${TARGET}\``);
    await rm(root, { recursive: true, force: true });
  }
  const so = summarize(samples.ours);
  const ss = summarize(samples.stock);
  const sl = samples.myloader.length ? summarize(samples.myloader) : null;
  return {
    rows: [
      {
        section: 'restore',
        case: `restore ${shape.label}, ${expectedRows} rows, tcp`,
        ours: so.wallMs,
        oursRssMb: mb(so.peakRssKb),
        peers: [
          { name: PEER.mariadbLoad, value: ss.wallMs, rssMb: mb(ss.peakRssKb) },
          { name: PEER.myloader2, value: sl?.wallMs ?? null, rssMb: mb(sl?.peakRssKb) },
        ],
        goal: GOAL,
        note: 'schema_restore CLI (staging tables, then moved into place)',
      },
    ],
    data: { shape: shape.name, rows: expectedRows, ours: so, mariadbLoad: ss, myloader2: sl },
  };
}
