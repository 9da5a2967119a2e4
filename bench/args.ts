/** The benchmark's command line (pure: argv in, options out). */
import { SHAPES } from './datasets';

export const SHAPE_CASES = SHAPES.map((s) => s.name);
export const RESTORE_CASES = ['restore-big', 'restore-wide'] as const;
export const OTHER_CASES = ['memory', 'site', 'unchanged', 'downtime', 'export', 'progress'] as const;
export const CASES: readonly string[] = [...SHAPE_CASES, ...OTHER_CASES, ...RESTORE_CASES];
/** Names that stand for several cases in `--only`. */
const GROUPS: Record<string, readonly string[]> = { shapes: SHAPE_CASES, restore: RESTORE_CASES };

export type Transport = 'tcp' | 'socket';

export interface BenchArgs {
  runs: number;
  /** The base row count (the big, mixed and numeric tables; narrow has 5x; wide text is fixed at 20 MiB). */
  rows: number;
  dbConfig?: string;
  only: Set<string>;
  transports: Transport[];
  keep: boolean;
  /** Profile schema_backup once on each selected shape (default: mixed) instead of benchmarking. */
  profile: boolean;
}

export const USAGE = `npm run bench -- [--quick] [--runs N] [--rows N] [--only CASES] [--transport tcp,socket]
                       [--db-config FILE] [--keep] [--profile]
  cases: ${CASES.join(', ')} (groups: shapes, restore)`;

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  let runs: number | null = null;
  let rows: number | null = null;
  let quick = false;
  const args: BenchArgs = { runs: 3, rows: 1_000_000, only: new Set(CASES), transports: ['tcp', 'socket'], keep: false, profile: false };
  let onlyGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${argv[i - 1]} needs a value\n${USAGE}`);
      return v;
    };
    const count = (name: string, min: number): number => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < min) throw new Error(`${name}: expected an integer >= ${min}\n${USAGE}`);
      return n;
    };
    switch (argv[i]) {
      case '--runs': runs = count('--runs', 1); break;
      case '--rows': rows = count('--rows', 1000); break;
      case '--quick': quick = true; break;
      case '--db-config': args.dbConfig = value(); break;
      case '--keep': args.keep = true; break;
      case '--profile': args.profile = true; break;
      case '--only': {
        args.only = new Set();
        onlyGiven = true;
        for (const name of value().split(',').map((s) => s.trim()).filter(Boolean)) {
          const members = GROUPS[name] ?? (CASES.includes(name) ? [name] : null);
          if (!members) throw new Error(`--only: unknown case ${JSON.stringify(name)}\n${USAGE}`);
          for (const m of members) args.only.add(m);
        }
        break;
      }
      case '--transport': {
        const list = value().split(',').map((s) => s.trim());
        if (!list.length || list.some((t) => t !== 'tcp' && t !== 'socket')) throw new Error(`--transport: expected tcp, socket or tcp,socket\n${USAGE}`);
        args.transports = [...new Set(list as Transport[])];
        break;
      }
      default: throw new Error(`unknown argument ${argv[i]}\n${USAGE}`);
    }
  }
  // Quick: a development run, small tables and one run each, unless said otherwise.
  args.runs = runs ?? (quick ? 1 : 3);
  args.rows = rows ?? (quick ? 100_000 : 1_000_000);
  if (args.profile && !onlyGiven) args.only = new Set(['mixed']);
  return args;
}
