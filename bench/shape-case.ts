/**
 * One table shape over one transport: schema_backup (default settings, then
 * SCHEMA_BACKUP_READERS=2) against mariadb-dump, mydumper -t 1, mydumper -t 2
 * --rows 200000 and the read limit, interleaved run by run so that noise on
 * the shared machine falls on every tool alike. Each tool reads the table
 * right after the same one-row change.
 *
 * Every tool's output stays on disk until the case ends, as ours keeps its
 * earlier snapshots: each run writes into page cache that no earlier output
 * gave back. Removing the peers' output after each run let them write into
 * the pages it freed, which on a VM whose memory is not yet warm is much
 * cheaper than a first touch: on the big table, writing its file cost a run
 * of ours 0.2 s on this machine's cold memory and 0.07 s once warm (the same
 * runs with and without the writes, before and after touching 12 GB once).
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import type { TableShape } from './datasets';
import { summarize, type Sample, type Summary } from './measure';
import { MYDUMPER_CHUNK_ROWS, PEER, mariadbDump, mydumper, readLimit } from './peers';
import type { PeerCell, Row } from './report';
import type { BenchDb } from './setup';
import { SteadyRoot } from './steady-root';

export interface ShapeContext {
  admin: Connection;
  scratch: string;
  runs: number;
  /** mydumper is installed (else its columns stay empty). */
  mydumper: boolean;
}

export const mb = (kb: number | null | undefined): number | null => (kb === null || kb === undefined ? null : kb / 1024);

export async function dirBytes(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) n += e.isDirectory() ? await dirBytes(join(dir, e.name)) : (await stat(join(dir, e.name))).size;
  return n;
}

const READERS_2 = { SCHEMA_BACKUP_READERS: '2' };
const GOAL_SERIAL = { text: '<=1.0x mariadb-dump, mydumper -t 1 (moonshot 0.8x); RSS<=150MB', against: [PEER.mariadbDump, PEER.mydumper1], limit: 1.0, moonshot: 0.8, rssLimitMb: 150 };
const GOAL_PARALLEL = { text: '<=1.0x mydumper -t 2 --rows; RSS<=150MB', against: [PEER.mydumper2], limit: 1.0, rssLimitMb: 150 };

export async function runShape(ctx: ShapeContext, shape: TableShape, rowCount: number, db: BenchDb, transport: string): Promise<{ rows: Row[]; data: unknown }> {
  const { admin, scratch } = ctx;
  const table = shape.name;
  const touches = { [table]: shape.touch };
  const samples: Record<'ours' | 'ours2' | 'dump' | 'md1' | 'md2' | 'read', Sample[]> = { ours: [], ours2: [], dump: [], md1: [], md2: [], read: [] };
  const bytes = { ours: 0, mariadbDump: 0, mydumper1: 0, mydumper2: 0 };
  const serial = await SteadyRoot.create(db, scratch, { local: [table] }, { touches });
  const parallel = await SteadyRoot.create(db, scratch, { local: [table] }, { touches, env: READERS_2 });
  // One output per tool and run, removed when the case ends (see above).
  const outputs: string[] = [];
  const outFor = (tool: string, run: number): string => {
    const path = join(scratch, `${table}-${tool}-${run}`);
    outputs.push(path);
    return path;
  };
  try {
    for (let i = 0; i < ctx.runs; i++) {
      const mine = await serial.run(admin, scratch);
      samples.ours.push(mine.sample);
      bytes.ours = mine.bytes;

      await serial.change(admin, false);
      const dumpFile = outFor('mariadb-dump', i);
      samples.dump.push(await mariadbDump(db, [table], dumpFile, scratch));
      bytes.mariadbDump = (await stat(dumpFile)).size;

      if (ctx.mydumper) {
        await serial.change(admin, false);
        const dir = outFor('mydumper1', i);
        samples.md1.push(await mydumper(db, table, dir, scratch, 1));
        bytes.mydumper1 = await dirBytes(dir);
      }

      await serial.change(admin, false);
      samples.read.push(await readLimit(db, table, scratch));

      samples.ours2.push((await parallel.run(admin, scratch, { env: READERS_2 })).sample);

      if (ctx.mydumper) {
        await serial.change(admin, false);
        const dir = outFor('mydumper2', i);
        samples.md2.push(await mydumper(db, table, dir, scratch, 2, MYDUMPER_CHUNK_ROWS));
        bytes.mydumper2 = await dirBytes(dir);
      }
    }
  } finally {
    await serial.remove();
    await parallel.remove();
    for (const path of outputs) await rm(path, { recursive: true, force: true });
  }
  const s = (xs: Sample[]): Summary | null => (xs.length ? summarize(xs) : null);
  const sum = { ours: s(samples.ours), ours2: s(samples.ours2), dump: s(samples.dump), md1: s(samples.md1), md2: s(samples.md2), read: s(samples.read) };
  const cell = (name: string, x: Summary | null): PeerCell => ({ name, value: x?.wallMs ?? null, rssMb: mb(x?.peakRssKb) });
  const rate = (n: number, x: Summary | null) => (x ? (n / (x.wallMs / 1000) / 1e6).toFixed(0) : '-');
  const head = `${shape.label}, ${rowCount} rows, ${transport}`;
  const rows: Row[] = [
    {
      section: 'backup: table shapes',
      case: head,
      ours: sum.ours?.wallMs ?? null,
      oursRssMb: mb(sum.ours?.peakRssKb),
      peers: [cell(PEER.mariadbDump, sum.dump), cell(PEER.mydumper1, sum.md1), cell(PEER.readLimit, sum.read)],
      goal: GOAL_SERIAL,
      note: `${(bytes.ours / 1e6).toFixed(0)} MB of SQL, ours ${rate(bytes.ours, sum.ours)} MB/s, mariadb-dump ${rate(bytes.mariadbDump, sum.dump)} MB/s`,
    },
    {
      section: 'backup: table shapes, parallel',
      case: `${head}, 2 readers (SCHEMA_BACKUP_READERS=2)`,
      ours: sum.ours2?.wallMs ?? null,
      oursRssMb: mb(sum.ours2?.peakRssKb),
      peers: [cell(PEER.mydumper2, sum.md2)],
      goal: GOAL_PARALLEL,
    },
  ];
  const cpu = Object.fromEntries(Object.entries(sum).map(([k, v]) => [k, v?.cpuMs ?? null]));
  return {
    rows,
    data: {
      shape: shape.name, transport, rows: rowCount, bytes, cpuMs: cpu,
      ours: sum.ours, oursReaders2: sum.ours2, mariadbDump: sum.dump, mydumper1: sum.md1, mydumper2: sum.md2, readLimit: sum.read,
    },
  };
}
