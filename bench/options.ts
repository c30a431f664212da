import { parseArgs } from 'node:util';

/** Everything a bench run can be told on the command line (`npm run bench:http -- --help`). */
export interface BenchOptions {
  readonly quick: boolean;
  /** Measured runs per workload; the table shows the median. */
  readonly runs: number;
  /** Seconds each measured run of a workload lasts. */
  readonly durationSec: number;
  /** Seconds of unmeasured load before a workload's first run. */
  readonly warmupSec: number;
  /** Concurrent keep-alive HTTP connections (and in-process loops for the baseline). */
  readonly connections: number;
  /** Tasks seeded for the review-queue query. */
  readonly tasks: number;
  /** Patients seeded for read and identifier search (also the baseline's store size). */
  readonly patients: number;
  /** Resources per transaction bundle when seeding Tasks. */
  readonly seedBundleSize: number;
  /** Resources per batch bundle in the batch-ingest workload. */
  readonly ingestBundleSize: number;
  /** Server restarts measured by the start-up benchmark. */
  readonly restarts: number;
  /** A workload whose single request takes longer than this is reported from that request only. */
  readonly maxAloneMs: number;
  /** Only these workloads (keys of http-workloads.ts); all when empty. */
  readonly only: readonly string[];
  readonly skipBaseline: boolean;
  readonly skipStartup: boolean;
  /** Keep the temp dir (store, server logs) after a successful run. */
  readonly keep: boolean;
  /** Where the JSON result goes (relative to the repository root). */
  readonly out: string;
}

const WORKLOAD_KEYS: readonly string[] = ['read', 'search', 'create', 'transaction', 'batch', 'queue'];

const HELP = `npm run bench:http -- [options]

  --quick              small store, 1 run of 2 s per workload (~1 min): checks the harness
  --runs N             measured runs per workload, median reported (default 3)
  --duration S         seconds per measured run (default 5)
  --warmup S           seconds of unmeasured load before each workload (default 1)
  --connections N      concurrent keep-alive connections / in-process loops (default 8)
  --tasks N            Tasks seeded for the review-queue query (default 100000)
  --patients N         Patients seeded for read / identifier search (default 2000)
  --restarts N         restarts measured by the start-up benchmark (default 3)
  --max-alone MS       skip the load test of a workload whose single request takes longer (default 2000)
  --only a,b           only these workloads: read,search,create,transaction,batch,queue
  --skip-baseline      do not run the in-process MemoryRepository baseline
  --skip-startup       do not run the start-up / memory benchmark
  --keep               keep the temp dir (store and server logs) after a successful run
  --out FILE           JSON result file (default bench/results/latest.json)
`;

export function parseOptions(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      runs: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      tasks: { type: 'string' },
      patients: { type: 'string' },
      restarts: { type: 'string' },
      'max-alone': { type: 'string' },
      only: { type: 'string' },
      'skip-baseline': { type: 'boolean', default: false },
      'skip-startup': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const quick = values.quick;
  const only = (values.only ?? '').split(',').map((k) => k.trim()).filter(Boolean);
  const unknown = only.filter((k) => !WORKLOAD_KEYS.includes(k));
  if (unknown.length) {
    throw new Error(`--only: unknown workload(s) ${unknown.join(', ')}; use ${WORKLOAD_KEYS.join(', ')}`);
  }
  return {
    quick,
    runs: positiveInt('runs', values.runs, quick ? 1 : 3),
    durationSec: positiveNumber('duration', values.duration, quick ? 2 : 5),
    warmupSec: nonNegativeNumber('warmup', values.warmup, quick ? 0.5 : 1),
    connections: positiveInt('connections', values.connections, 8),
    tasks: positiveInt('tasks', values.tasks, quick ? 2000 : 100_000),
    patients: positiveInt('patients', values.patients, quick ? 300 : 2000),
    seedBundleSize: 250,
    ingestBundleSize: 50,
    restarts: positiveInt('restarts', values.restarts, quick ? 1 : 3),
    maxAloneMs: positiveNumber('max-alone', values['max-alone'], 2000),
    only,
    skipBaseline: values['skip-baseline'],
    skipStartup: values['skip-startup'],
    keep: values.keep,
    out: values.out ?? 'bench/results/latest.json',
  };
}

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(n) || n <= 0) {
    throw new Error(`--${name} must be a positive integer, got "${raw}"`);
  }
  return n;
}

function positiveNumber(name: string, raw: string | undefined, fallback: number): number {
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    throw new Error(`--${name} must be a positive number, got "${raw}"`);
  }
  return n;
}

function nonNegativeNumber(name: string, raw: string | undefined, fallback: number): number {
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isFinite(n) || n < 0) {
    throw new Error(`--${name} must be a number >= 0, got "${raw}"`);
  }
  return n;
}
