/**
 * `npm run bench -- --profile [--only mixed]`: schema_backup once on a shape,
 * under `node --cpu-prof`, with the server's CPU time read from
 * /proc/<mariadbd>/stat before and after: wall time split into client CPU,
 * server CPU and the rest (waiting on each other, the socket, fsync). The
 * profiler itself costs some client CPU; compare shares, not absolute times.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { run } from '../src/proc/run';
import type { TableShape } from './datasets';
import { measure } from './measure';
import { procCpuTicks, renderSelfTimes, selfTimes, type CpuProfile } from './profile';
import type { BenchDb } from './setup';
import { CLI, SteadyRoot, operatorEnv } from './steady-root';

async function clockTicks(): Promise<number> {
  try {
    return Number((await run('getconf', ['CLK_TCK'])).stdout.trim()) || 100;
  } catch {
    return 100;
  }
}

const serverTicks = (pid: number | null): number | null => {
  if (pid === null) return null;
  try {
    return procCpuTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
};

export async function profileShape(admin: Connection, shape: TableShape, db: BenchDb, scratch: string, serverPid: number | null, transport: string): Promise<{ text: string; data: unknown }> {
  const root = await SteadyRoot.create(db, scratch, { local: [shape.name] }, { touches: { [shape.name]: shape.touch } });
  const profDir = await mkdtemp(join(scratch, 'cpuprof-'));
  try {
    await root.change(admin);
    const hz = await clockTicks();
    const before = serverTicks(serverPid);
    const sample = await measure(
      process.execPath,
      ['--cpu-prof', `--cpu-prof-dir=${profDir}`, CLI, '--online', '--config', root.conf.file, '--db-config', db.credentialsFile, '--host-name', 'bench'],
      scratch,
      { env: operatorEnv() },
    );
    const after = serverTicks(serverPid);
    const serverMs = before === null || after === null ? null : ((after - before) * 1000) / hz;
    const pct = (ms: number | null) => (ms === null ? '-' : `${(ms / 1000).toFixed(2)} s (${((ms / sample.wallMs) * 100).toFixed(0)}% of wall)`);
    const out: string[] = [
      `profile: schema_backup on ${shape.label} over ${transport}, one run under --cpu-prof`,
      `  wall time        ${(sample.wallMs / 1000).toFixed(2)} s`,
      `  client CPU       ${pct(sample.cpuMs)}   (user+sys of the node process, all threads; GNU time)`,
      `  server CPU       ${pct(serverMs)}   (mariadbd pid ${serverPid ?? '?'}, /proc stat delta${serverPid === null ? ': unknown, not a private server' : ''})`,
      `  peak RSS         ${sample.peakRssKb === null ? '-' : `${(sample.peakRssKb / 1024).toFixed(0)} MB`}`,
      '',
    ];
    const threads: unknown[] = [];
    const files = (await readdir(profDir)).filter((f) => f.endsWith('.cpuprofile')).sort();
    for (const f of files) {
      const profile = JSON.parse(await readFile(join(profDir, f), 'utf8')) as CpuProfile;
      const st = selfTimes(profile);
      // Node names files CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; thread 0 is the main thread.
      const thread = /\.(\d+)\.\d+\.cpuprofile$/.exec(f)?.[1] ?? '?';
      const idle = st.functions.find((x) => x.name === '(idle)');
      out.push(renderSelfTimes(`thread ${thread}${thread === '0' ? ' (main)' : ' (worker)'}, idle ${idle ? `${(idle.share * 100).toFixed(0)}%` : '-'}`, st.spanMs, st.functions));
      threads.push({ file: f, thread, spanMs: st.spanMs, top: st.functions.slice(0, 40) });
    }
    return { text: out.join('\n'), data: { shape: shape.name, transport, wallMs: sample.wallMs, clientCpuMs: sample.cpuMs, serverCpuMs: serverMs, peakRssKb: sample.peakRssKb, threads } };
  } finally {
    await root.remove();
    await rm(profDir, { recursive: true, force: true });
  }
}
