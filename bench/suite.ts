/**
 * The whole benchmark suite (#8): every benchmark the issues ask for, one after the other, each in
 * its own process so that one's heap, threads and page cache do not colour the next.
 *
 *   npm run bench                      # http, intake, import, triage (~12 min on 2 cores)
 *   npm run bench -- --quick           # the same harnesses on small inputs (~1.5 min): checks they run
 *   npm run bench -- --only intake,import
 *   npm run bench -- --with-scale      # adds the 1M-resource store (seeding it the first time: 4–8 min)
 *
 * Each benchmark prints its own tables (bench/README.md explains them); this prints which ran,
 * how long each took and whether it exited cleanly, and exits non-zero if any did not.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

interface Benchmark {
  readonly name: string;
  readonly script: string;
  readonly args: readonly string[];
  readonly quickArgs: readonly string[];
}

const SUITE: readonly Benchmark[] = [
  { name: 'http', script: 'bench/run.ts', args: [], quickArgs: ['--quick'] },
  { name: 'intake', script: 'bench/intake.ts', args: [], quickArgs: ['--runs', '3'] },
  { name: 'import', script: 'bench/bulk-import.ts', args: [], quickArgs: ['--resources', '10000', '--runs', '1'] },
  { name: 'triage', script: 'bench/triage-latency.ts', args: [], quickArgs: ['--cases', '100'] },
  { name: 'scale', script: 'bench/scale.ts', args: [], quickArgs: ['--resources', '50000', '--dir', '/tmp/dermbridge-scale-quick'] },
];

function main(): void {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      'with-scale': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`npm run bench -- [--quick] [--only ${SUITE.map((b) => b.name).join(',')}] [--with-scale]\n`);
    return;
  }
  const only = values.only?.split(',').map((s) => s.trim());
  const unknown = only?.filter((name) => !SUITE.some((b) => b.name === name)) ?? [];
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark: ${unknown.join(', ')}; known: ${SUITE.map((b) => b.name).join(', ')}\n`);
    process.exit(2);
  }
  // The 1M store takes long to seed, so it runs only when asked for by name or flag.
  const chosen = SUITE.filter((b) => (only ? only.includes(b.name) : b.name !== 'scale' || values['with-scale']));
  // The project's Node (node_modules/.bin first on PATH under npm run), as every bench script expects.
  const node = process.execPath;
  const results: { name: string; seconds: number; status: number | null }[] = [];
  for (const bench of chosen) {
    const args = values.quick ? bench.quickArgs : bench.args;
    process.stdout.write(`\n=== ${bench.name}: ${[bench.script, ...args].join(' ')}\n`);
    const started = Date.now();
    const run = spawnSync(node, ['--no-warnings=ExperimentalWarning', '--import', 'tsx', join(bench.script), ...args], { stdio: 'inherit' });
    results.push({ name: bench.name, seconds: (Date.now() - started) / 1000, status: run.status });
  }
  process.stdout.write('\n| benchmark | wall time | result |\n|---|--:|---|\n');
  for (const r of results) {
    process.stdout.write(`| ${r.name} | ${r.seconds.toFixed(0)} s | ${r.status === 0 ? 'ok' : `exit ${r.status ?? 'signal'}`} |\n`);
  }
  if (results.some((r) => r.status !== 0)) {
    process.exit(1);
  }
}

main();
