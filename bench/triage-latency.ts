/**
 * Triage latency (#5): from the commit of a submitted case (its transaction answered 200) to the
 * moment its Task carries the triaged priority, with nothing but the server's own after-commit
 * dispatch in between.
 *
 *   npm run bench:triage -- --cases 1000 --concurrency 4
 *
 * Each case is the sample case (fhir-profiles/examples) with fresh identifiers and its Task at
 * `routine`; triage raises it to `urgent` (the sample intake scores 6 on the NICE 7-point list).
 * The Task is polled every 5 ms, so figures are accurate to about that.
 */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Bundle, Task } from '@medplum/fhirtypes';
import { sampleCase } from '../test/bots/support';
import { ServerProcess } from './server-process';
import { percentile } from './stats';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { cases: { type: 'string', default: '1000' }, concurrency: { type: 'string', default: '4' } } });
  const total = Number(values.cases);
  const dir = mkdtempSync(join(tmpdir(), 'dermbridge-triage-bench-'));
  mkdirSync(join(dir, 'data'));
  const server = await ServerProcess.start(join(dir, 'data'), join(dir, 'server.log'));
  const token = await server.token();
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json', accept: 'application/fhir+json' };
  const fhir = `${server.baseUrl}/fhir/R4/`;
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();

  const worker = async (): Promise<void> => {
    while (next < total) {
      next++;
      const res = await fetch(fhir, { method: 'POST', headers, body: JSON.stringify(sampleCase({ task: { priority: 'routine' } })) });
      const committedAt = performance.now();
      if (!res.ok) {
        throw new Error(`case submission failed: ${res.status} ${(await res.text()).slice(0, 300)}`);
      }
      const bundle = (await res.json()) as Bundle;
      const taskRef = bundle.entry?.map((e) => e.response?.location ?? '').find((l) => l.startsWith('Task/'))?.split('/_history')[0];
      if (!taskRef) {
        throw new Error('no Task in the transaction response');
      }
      for (;;) {
        const task = (await (await fetch(fhir + taskRef, { headers })).json()) as Task;
        if (task.priority !== 'routine') {
          latencies.push(performance.now() - committedAt);
          break;
        }
        if (performance.now() - committedAt > 60_000) {
          throw new Error(`${taskRef} not triaged within 60 s`);
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      if (latencies.length % 100 === 0) {
        process.stdout.write(`\rtriaged ${latencies.length}/${total}   `);
      }
    }
  };
  await Promise.all(Array.from({ length: Number(values.concurrency) }, worker));
  const seconds = (performance.now() - started) / 1000;
  await server.stop();
  const sorted = [...latencies].sort((a, b) => a - b);
  const result = {
    date: new Date().toISOString(),
    cases: sorted.length,
    concurrency: Number(values.concurrency),
    commitToPrioritizedTaskMs: { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: sorted.at(-1) },
    casesPerMinute: (sorted.length / seconds) * 60,
  };
  console.log(`\n${JSON.stringify(result, null, 2)}`);
  mkdirSync(join(__dirname, 'results'), { recursive: true });
  writeFileSync(join(__dirname, 'results', 'triage-latency.json'), JSON.stringify(result, null, 2) + '\n');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
