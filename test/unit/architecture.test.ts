/**
 * The direction of imports in src/ (README "Source layout"): entry points
 * (cli/) -> composition root (app/) -> workflows -> edges. An edge never
 * imports a workflow, the root or the commands; nothing imports cli/ from
 * outside; no two files and no two folders import each other, directly or
 * round a longer loop. Read with TypeScript's own scanner, so dynamic
 * `import()` and `require()` count as much as static imports.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import * as ts from 'typescript';

const SRC = resolve(__dirname, '../../src');

/** Each folder of src/ and its layer; files directly in src/ (errors, log) are an edge. */
const LAYER: Record<string, 'entry' | 'root' | 'workflow' | 'edge'> = {
  cli: 'entry',
  app: 'root',
  backup: 'workflow',
  restore: 'workflow',
  verify: 'workflow',
  daemon: 'workflow',
  api: 'workflow',
  sqlite: 'workflow',
  install: 'workflow',
  bookkeeping: 'edge',
  config: 'edge',
  db: 'edge',
  domain: 'edge',
  dump: 'edge',
  git: 'edge',
  plan: 'edge',
  proc: 'edge',
  services: 'edge',
  store: 'edge',
  '.': 'edge',
};
const RANK = { edge: 0, workflow: 1, root: 2, entry: 3 } as const;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Relative imports of each file (src-relative paths, without extension). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = info.importedFiles
      .map((f) => f.fileName)
      .filter((s) => s.startsWith('.'))
      .map((s) => relative(SRC, resolve(dirname(file), s)).replace(/\.js$/, '').split(sep).join('/'));
    graph.set(relative(SRC, file).replace(/\.ts$/, '').split(sep).join('/'), targets);
  }
  return graph;
}

const folderOf = (file: string): string => (file.includes('/') ? (file.split('/')[0] as string) : '.');

/** Strongly connected components with more than one node: every cycle, each listed once. */
function cycles(graph: Map<string, Set<string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1) found.push(c.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return found;
}

describe('architecture of src/', () => {
  const graph = importGraph();

  it('reads the imports it checks (the scan sees static, dynamic and re-exports)', () => {
    expect(graph.size).toBeGreaterThan(50);
    expect(graph.get('cli/backup-command')).toEqual(expect.arrayContaining(['errors', 'cli/io', 'app/backup']));
    // main loads the subcommands with import(): those must count too.
    expect(graph.get('cli/main')).toEqual(expect.arrayContaining(['cli/verify-command']));
  });

  it('puts every folder of src/ in a layer', () => {
    const folders = [...new Set([...graph.keys()].map(folderOf))];
    expect(folders.filter((f) => !(f in LAYER))).toEqual([]);
  });

  it('has no cycle between files', () => {
    const g = new Map([...graph].map(([f, ts]) => [f, new Set(ts)]));
    expect(cycles(g)).toEqual([]);
  });

  it('has no cycle between folders', () => {
    const g = new Map<string, Set<string>>();
    for (const [f, targets] of graph) {
      const set = g.get(folderOf(f)) ?? new Set<string>();
      for (const t of targets) if (folderOf(t) !== folderOf(f)) set.add(folderOf(t));
      g.set(folderOf(f), set);
    }
    expect(cycles(g)).toEqual([]);
  });

  it('imports only downwards: entry points -> composition root -> workflows -> edges', () => {
    const upward: string[] = [];
    for (const [f, targets] of graph) {
      const from = LAYER[folderOf(f)];
      for (const t of targets) {
        const to = LAYER[folderOf(t)];
        if (from && to && RANK[to] > RANK[from]) upward.push(`${f} (${from}) imports ${t} (${to})`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('spawns processes in the seams only: src/proc/run.ts, simple-git in src/git/repo.ts, systemd-notify in src/daemon/notify.ts', () => {
    const allowed: Record<string, string[]> = {
      'child_process': ['proc/run'],
      'node:child_process': ['proc/run'],
      'simple-git': ['git/repo'],
      'systemd-notify': ['daemon/notify'],
    };
    const outside: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const name = relative(SRC, file).replace(/\.ts$/, '').split(sep).join('/');
      for (const f of ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles) {
        const where = allowed[f.fileName];
        if (where && !where.includes(name)) outside.push(`${name} imports ${f.fileName}`);
      }
    }
    expect(outside).toEqual([]);
  });

  it('finds an upward import and a cycle when there is one (the checks can fail)', () => {
    const g = new Map([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a'])],
      ['d', new Set(['a'])],
    ]);
    expect(cycles(g)).toEqual([['a', 'b', 'c']]);
    expect(RANK[LAYER['store']!] > RANK[LAYER['backup']!]).toBe(false);
  });
});
