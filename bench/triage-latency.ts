/**
 * Triage latency (#5): from the commit of a submitted case (its transaction answered 200) to the
 * moment its Task carries the triaged priority, with nothing but the server's own after-commit
 * dispatch in between.
 *
 *   npm run bench:triage -- --cases 1000 --concurrency 4
 *
 * Each case is the sample case (fhir-profiles/examples) with fresh identifiers and its Task at
 * `routine`; triage raises it to `urgent` (the sample intake scores 6 on the NICE 7-point list).
 *
 * Two figures per case. **Server-side** (the headline): from the Task's first version (committed
 * with the case) to its first version with the triaged priority, both `meta.lastUpdated` from the
 * Task's history: exact to the millisecond, and not inflated by watching. **Observed**: from the
 * 200 of the case transaction until a poll (every `--poll-ms`, 25) sees the priority. Polling is
 * not free (each GET is authenticated and audited durably, like any read), so polling every few
 * milliseconds would slow the very dispatch being measured.
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
  const { values } = parseArgs({ options: { cases: { type: 'string', default: '1000' }, concurrency: { type: 'string', default: '4' }, 'poll-ms': { type: 'string', default: '25' } } });
  const pollMs = Number(values['poll-ms']);
  const total = Number(values.cases);
  const dir = mkdtempSync(join(tmpdir(), 'dermbridge-triage-bench-'));
  mkdirSync(join(dir, 'data'));
  const server = await ServerProcess.start(join(dir, 'data'), join(dir, 'server.log'));
  const token = await server.token();
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json', accept: 'application/fhir+json' };
  const fhir = `${server.baseUrl}/fhir/R4/`;
  const latencies: number[] = [];
  const serverSide: number[] = [];
  let next = 0;
  const started = performance.now();

  const worker = async (): Promise<void> => {
    while (next < total) {
      next++;
      const res = await fetch(fhir, { method: 'POST', headers, body: JSON.stringify(submittedNow(sampleCase({ task: { priority: 'routine' } }))) });
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
          serverSide.push(await triagedAfterMs(fhir, taskRef, headers));
          break;
        }
        if (performance.now() - committedAt > 60_000) {
          throw new Error(`${taskRef} not triaged within 60 s`);
        }
        await new Promise((r) => setTimeout(r, pollMs));
      }
      if (latencies.length % 100 === 0) {
        process.stdout.write(`\rtriaged ${latencies.length}/${total}   `);
      }
    }
  };
  await Promise.all(Array.from({ length: Number(values.concurrency) }, worker));
  const seconds = (performance.now() - started) / 1000;
  // Triage runs first (bot-catalog.ts `runsFirst`): the other bots' runs (photo quality) may still
  // be queued when the last case is triaged. The case is fully processed when the queue is empty.
  const lastTriaged = performance.now();
  for (;;) {
    const res = await fetch(`${server.baseUrl}/admin/bot-runs/queue`, { headers });
    const queue = (await res.json()) as { pending: { runs: number }[]; changesBehind: number };
    if (queue.pending.length === 0 && queue.changesBehind === 0) {
      break;
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  const drainMs = performance.now() - lastTriaged;
  await server.stop();
  const summary = (xs: number[]): Record<string, number | undefined> => {
    const sorted = [...xs].sort((a, b) => a - b);
    return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: sorted.at(-1) };
  };
  const result = {
    date: new Date().toISOString(),
    cases: latencies.length,
    concurrency: Number(values.concurrency),
    commitToTriagedVersionMs: summary(serverSide),
    observedByPollingMs: { ...summary(latencies), pollMs },
    casesPerMinute: (latencies.length / seconds) * 60,
    otherBotRunsDoneAfterLastTriageMs: Math.round(drainMs),
    casesFullyProcessedPerMinute: (latencies.length / (seconds + drainMs / 1000)) * 60,
  };
  console.log(`\n${JSON.stringify(result, null, 2)}`);
  mkdirSync(join(__dirname, 'results'), { recursive: true });
  writeFileSync(join(__dirname, 'results', 'triage-latency.json'), JSON.stringify(result, null, 2) + '\n');
}

/**
 * The sample case as if submitted now: its dates are from 2025, so every case would already be
 * overdue, and the SLA escalation bot (every 5 minutes) would raise priorities itself, in the
 * middle of the measurement.
 */
function submittedNow(bundle: Bundle): Bundle {
  const now = new Date();
  for (const entry of bundle.entry ?? []) {
    const resource = entry.resource;
    if (resource?.resourceType === 'ServiceRequest') {
      resource.authoredOn = now.toISOString();
    }
    if (resource?.resourceType === 'Task') {
      resource.authoredOn = now.toISOString();
      resource.restriction = { period: { end: new Date(now.getTime() + 7 * 86_400_000).toISOString() } };
    }
  }
  return bundle;
}

/** From the Task's first version to its first version with a triaged priority, by the server's clock. */
async function triagedAfterMs(fhir: string, taskRef: string, headers: Record<string, string>): Promise<number> {
  const history = (await (await fetch(`${fhir}${taskRef}/_history`, { headers })).json()) as Bundle<Task>;
  // A history lists the newest version first (https://hl7.org/fhir/R4/http.html#history).
  const versions = (history.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : [])).reverse();
  const committed = Date.parse(versions[0]?.meta?.lastUpdated ?? '');
  const triaged = Date.parse(versions.find((v) => v.priority !== 'routine')?.meta?.lastUpdated ?? '');
  if (Number.isNaN(committed) || Number.isNaN(triaged)) {
    throw new Error(`${taskRef}: no committed and triaged versions in its history`);
  }
  return triaged - committed;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
