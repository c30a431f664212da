/**
 * Intake benchmark (issue 4): a 3-photo case with 12 MP JPEGs, end to end over HTTP against the
 * real server process, versus the raw sharp pipeline for the same photos in the same run.
 *
 *   node_modules/.bin/node --import tsx test/intake/intake-bench.ts [--runs 8]
 *
 * Not a mocha spec (no `.test.ts`): timings belong in a report, not in a pass/fail test.
 * Target: median end-to-end ≤ 1.15 × median raw pipeline.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processPhoto } from '../../src/images/process-photo';
import { ServerProcess } from '../../bench/server-process';
import { skinPhoto } from '../images/photo-fixtures';
import { econsultResponse, mrnPatient } from './intake-fixtures';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 8;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const photos = await Promise.all([1, 2, 3].map((seed) => skinPhoto({ width: 4000, height: 3000, seed })));
  console.log(`photos: 3 × 4000×3000 JPEG, ${photos.map((p) => (p.length / 1e6).toFixed(1)).join(' / ')} MB`);
  const dataDir = mkdtempSync(join(tmpdir(), 'dermbridge-intake-bench-'));
  const server = await ServerProcess.start(dataDir, join(dataDir, 'server.log'));
  try {
    const tokenRes = await fetch(`${server.baseUrl}/oauth2/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'dermbridge-demo', client_secret: 'dermbridge-demo-secret' }),
    });
    const token = ((await tokenRes.json()) as { access_token: string }).access_token;
    const practitioner = await fetch(`${server.baseUrl}/fhir/R4/Practitioner`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Practitioner', name: [{ family: 'Bench' }] }),
    }).then((r) => r.json() as Promise<{ id: string }>);
    const submitOnce = async (i: number): Promise<number> => {
      const form = new FormData();
      form.append('questionnaireResponse', JSON.stringify({ ...econsultResponse(), author: { reference: `Practitioner/${practitioner.id}` } }));
      form.append('patient', JSON.stringify(mrnPatient(`BENCH-${i}`)));
      ['overview', 'close1', 'close2'].forEach((part, k) => form.append(part, new Blob([new Uint8Array(photos[k])], { type: 'image/jpeg' }), `${part}.jpg`));
      const t0 = performance.now();
      const res = await fetch(`${server.baseUrl}/intake/cases`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: form });
      await res.arrayBuffer();
      if (res.status !== 201) throw new Error(`submission ${i}: ${res.status}`);
      return performance.now() - t0;
    };
    const rawOnce = async (): Promise<number> => {
      const t0 = performance.now();
      await Promise.all(photos.map((p) => processPhoto(p)));
      return performance.now() - t0;
    };
    await rawOnce();
    await submitOnce(-1); // warm-up: JIT, first SQLite pages
    const raw: number[] = [];
    const e2e: number[] = [];
    for (let i = 0; i < runs; i++) {
      // interleaved, so drift on a shared machine hits both sides alike
      raw.push(await rawOnce());
      e2e.push(await submitOnce(i));
    }
    const ratio = median(e2e) / median(raw);
    console.log(`raw sharp pipeline (3 photos, in this process): median ${median(raw).toFixed(0)} ms  [${raw.map((x) => x.toFixed(0)).join(', ')}]`);
    console.log(`end to end over HTTP (POST /intake/cases):       median ${median(e2e).toFixed(0)} ms  [${e2e.map((x) => x.toFixed(0)).join(', ')}]`);
    console.log(`ratio ${ratio.toFixed(2)} (target ≤ 1.15); ${(60000 / median(e2e)).toFixed(1)} cases/minute sequentially`);
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
