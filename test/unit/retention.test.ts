import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { applyRetention, parseSnapshotName, planRetention, type Snapshot } from '../../src/store/retention';
import { createLogger } from '../../src/log';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

const NOW = new Date('2024-06-30T12:00:00Z');

/** A snapshot `daysAgo` days before NOW, named as the store names them. */
function snap(daysAgo: number): Snapshot {
  const time = new Date(NOW.getTime() - daysAgo * 86_400_000);
  return { name: time.toISOString().replace(/[-:T]/g, '').slice(0, 14), time };
}

afterAll(cleanupTempDirs);

describe('planRetention', () => {
  const snaps = [snap(10), snap(0.5), snap(3), snap(1), snap(40), snap(8)];
  const [d10, d05, d3, d1, d40, d8] = snaps.map((s) => s.name) as [string, string, string, string, string, string];

  it('keeps the newest N by count', () => {
    expect(planRetention(snaps, { keep: 2, maxAgeDays: null }, [], NOW)).toEqual({ keep: [d05, d1], remove: [d3, d8, d10, d40] });
  });

  it('keeps those younger than D days by age', () => {
    expect(planRetention(snaps, { keep: null, maxAgeDays: 7 }, [], NOW)).toEqual({ keep: [d05, d1, d3], remove: [d8, d10, d40] });
  });

  it('keeps a snapshot if EITHER rule keeps it', () => {
    // count alone keeps 4; age alone keeps 3 (<=7 days, but not d8): together the 4 newest
    expect(planRetention(snaps, { keep: 4, maxAgeDays: 7 }, [], NOW).keep).toEqual([d05, d1, d3, d8]);
    // count alone keeps 1; age alone keeps 3: together 3
    expect(planRetention(snaps, { keep: 1, maxAgeDays: 7 }, [], NOW).keep).toEqual([d05, d1, d3]);
  });

  it('never removes a protected snapshot', () => {
    const plan = planRetention(snaps, { keep: 1, maxAgeDays: null }, [d40, 'not-there'], NOW);
    expect(plan.keep).toEqual([d05, d40]);
    expect(plan.remove).toEqual([d1, d3, d8, d10]);
  });

  it('always keeps the newest snapshot, even when every one is too old', () => {
    expect(planRetention([snap(50), snap(60)], { keep: null, maxAgeDays: 7 }, [], NOW)).toEqual({ keep: [snap(50).name], remove: [snap(60).name] });
  });

  it('keeps everything when neither rule is set', () => {
    expect(planRetention(snaps, { keep: null, maxAgeDays: null }, [], NOW).remove).toEqual([]);
  });

  it('handles an empty list', () => {
    expect(planRetention([], { keep: 1, maxAgeDays: 1 }, [], NOW)).toEqual({ keep: [], remove: [] });
  });
});

describe('parseSnapshotName', () => {
  it('reads YYYYmmddHHMMSS as UTC', () => {
    expect(parseSnapshotName('20240630120102')?.toISOString()).toBe('2024-06-30T12:01:02.000Z');
  });
  it('rejects other names and impossible dates', () => {
    for (const name of ['latest', '20240630120102.partial', '2024063012010', '20241330120000', '20240231000000', '20240630250000']) {
      expect(parseSnapshotName(name)).toBeNull();
    }
  });
});

describe('applyRetention on a real directory', () => {
  function capture(): { log: ReturnType<typeof createLogger>; lines: () => string[] } {
    const stream = new PassThrough();
    let text = '';
    stream.on('data', (d: Buffer) => (text += d.toString()));
    return { log: createLogger({ stream, journal: true }), lines: () => text.split('\n').filter(Boolean) };
  }

  function makeSnapshot(root: string, name: string): void {
    mkdirSync(join(root, name, 'uploads'), { recursive: true });
    writeFileSync(join(root, name, 'uploads', 'a.txt'), name);
  }

  it('removes what the plan says, keeps latest, partial snapshots and foreign entries', async () => {
    const root = tempDir('sb-retention-');
    const [n0, n1, n2, n3] = [snap(0).name, snap(2).name, snap(9).name, snap(30).name];
    for (const n of [n0, n1, n2, n3]) makeSnapshot(root, n);
    // latest points at an old one (e.g. the newest was written by hand): it must survive.
    symlinkSync(n3, join(root, 'latest'));
    mkdirSync(join(root, `${snap(40).name}.partial`));
    mkdirSync(join(root, 'notes'));
    writeFileSync(join(root, snap(50).name), 'a file, not a snapshot directory');

    const { log, lines } = capture();
    const result = await applyRetention(root, { keep: 1, maxAgeDays: 5 }, log, NOW);

    expect(result).toEqual({ keep: [n0, n1, n3], remove: [n2], failed: [] });
    expect(readdirSync(root).sort()).toEqual([n0, n1, n3, snap(50).name, `${snap(40).name}.partial`, 'latest', 'notes'].sort());
    expect(existsSync(join(root, n2))).toBe(false);
    expect(lines()).toEqual([`<6>user-data snapshot removed by retention snapshot=${join(root, n2)}`]);
  });

  it('works without latest', async () => {
    const root = tempDir('sb-retention-');
    for (const d of [1, 2, 3]) makeSnapshot(root, snap(d).name);
    const result = await applyRetention(root, { keep: 2, maxAgeDays: null }, capture().log, NOW);
    expect(result.remove).toEqual([snap(3).name]);
    expect(readdirSync(root).sort()).toEqual([snap(2).name, snap(1).name].sort());
  });
});
