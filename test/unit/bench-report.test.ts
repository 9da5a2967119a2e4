import { parseBenchArgs } from '../../bench/args';
import { procCpuTicks, selfTimes, type CpuProfile } from '../../bench/profile';
import { renderReport, verdict, type Row } from '../../bench/report';

const goal = { text: '<=1.0x a, b (moonshot 0.8x)', against: ['a', 'b'], limit: 1.0, moonshot: 0.8, rssLimitMb: 150 };
const row = (ours: number | null, a: number | null, b: number | null, rss: number | null = 100): Row => ({
  section: 'shapes', case: 'x', ours, oursRssMb: rss, peers: [{ name: 'a', value: a }, { name: 'b', value: b }, { name: 'c', value: 1 }], goal,
});

describe('bench verdicts', () => {
  it('passes only when every bounded peer is at or above ours, and RSS is within its bound', () => {
    expect(verdict(row(1000, 1000, 2000))).toBe('PASS');
    expect(verdict(row(1000, 999, 2000))).toBe('MISS');
    expect(verdict(row(1000, 2000, 999))).toBe('MISS');
    expect(verdict(row(1000, 2000, 2000, 151))).toBe('MISS');
  });

  it('says moonshot when every bounded ratio is at most 0.8x; an unbounded peer does not count', () => {
    expect(verdict(row(800, 1000, 1000))).toBe('PASS (moonshot)');
    expect(verdict(row(800, 1000, 999))).toBe('PASS');
  });

  it('says n/a, never PASS, when a bounded peer was not measured', () => {
    expect(verdict(row(500, 1000, null))).toBe('n/a');
    expect(verdict(row(500, 1000, 1000, null))).toBe('n/a');
  });

  it('prints each section as its own markdown table with the ratio ours/peer in every peer cell', () => {
    const text = renderReport([row(1500, 1000, 3000), { section: 'restore', case: 'r', ours: 2000, oursRssMb: 50, peers: [{ name: 'myloader', value: 1000, rssMb: 8 }] }]);
    expect(text).toContain('### shapes');
    expect(text).toContain('### restore');
    expect(text).toMatch(/\| 1\.00 s \(1\.50x\) +\| 3\.00 s \(0\.50x\) +\|/);
    expect(text).toMatch(/\| 1\.00 s \(2\.00x, 8 MB\) +\|/);
    expect(text).toMatch(/\| MISS +\|/);
    // The restore table has its own columns: no shape peer there.
    expect(text.split('### restore')[1]).not.toContain('| a ');
  });
});

describe('bench profile reading', () => {
  it('adds each sample until the next one (the last until endTime) to its function', () => {
    const profile: CpuProfile = {
      nodes: [
        { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 } },
        { id: 2, callFrame: { functionName: 'encodeRow', url: 'file:///x/dist/src/dump/tuples.js', lineNumber: 137 } },
        { id: 3, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
      ],
      startTime: 0,
      endTime: 10_000,
      samples: [2, 3, 2],
      timeDeltas: [1000, 3000, 2000],
    };
    const { spanMs, functions } = selfTimes(profile);
    expect(spanMs).toBe(10);
    // encodeRow: 1000..4000 and 6000..10000; idle: 4000..6000.
    expect(functions).toEqual([
      { name: 'encodeRow (src/dump/tuples.js:138)', ms: 7, share: 0.7 },
      { name: '(idle)', ms: 2, share: 0.2 },
    ]);
  });

  it('reads utime + stime from /proc/PID/stat, whatever the command name holds', () => {
    const stat = '4242 (maria db) S) S 1 4242 4242 0 -1 4194624 5000 0 0 0 1234 567 0 0 20 0 40 0 100 0 0';
    expect(procCpuTicks(stat)).toBe(1234 + 567);
    expect(() => procCpuTicks('garbage')).toThrow(/unexpected/);
  });
});

describe('bench arguments', () => {
  it('quick mode makes small tables and one run, unless given', () => {
    expect(parseBenchArgs(['--quick'])).toMatchObject({ rows: 100_000, runs: 1 });
    expect(parseBenchArgs(['--quick', '--runs', '3'])).toMatchObject({ rows: 100_000, runs: 3 });
    expect(parseBenchArgs([])).toMatchObject({ rows: 1_000_000, runs: 3, transports: ['tcp', 'socket'] });
  });

  it('expands groups in --only and refuses unknown cases', () => {
    expect([...parseBenchArgs(['--only', 'restore,mixed']).only].sort()).toEqual(['mixed', 'restore-big', 'restore-wide']);
    expect(() => parseBenchArgs(['--only', 'socket'])).toThrow(/unknown case "socket"/);
    expect(() => parseBenchArgs(['--transport', 'udp'])).toThrow(/--transport/);
  });

  it('profiles the mixed table unless --only names shapes', () => {
    expect([...parseBenchArgs(['--profile']).only]).toEqual(['mixed']);
    expect([...parseBenchArgs(['--profile', '--only', 'narrow']).only]).toEqual(['narrow']);
  });
});
