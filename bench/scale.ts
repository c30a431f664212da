/**
 * The store at scale (DESIGN.md): identifier search p95 < 10 ms over 1M resources, `_include`
 * staying index-driven, start-up < 10 s and memory that does not grow with the store.
 *
 *   npm run bench:scale -- --resources 1000000 --dir /tmp/dermbridge-1m
 *
 * Seeds Patients (and one Observation per 10 Patients, for `_include`) in-process through the real
 * write path (validation, indexing, durable commits) into `--dir`, unless it already holds them;
 * then starts the real server on it and measures start-up, memory and search latency over HTTP.
 */
import { parseArgs } from 'node:util';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config/load-config';
import { runHttpLoad } from './http-load';
import { FhirHttp } from './http-client';
import { ServerProcess } from './server-process';

const SYSTEM = 'urn:dermbridge:bench:scale';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      resources: { type: 'string', default: '1000000' },
      dir: { type: 'string', default: '/tmp/dermbridge-scale' },
      duration: { type: 'string', default: '10' },
    },
  });
  const total = Number(values.resources);
  const dir = values.dir as string;
  mkdirSync(dir, { recursive: true });
  const patients = Math.ceil(total / 1.1);
  const seeded = await seed(dir, patients);
  const dbFile = join(dir, 'dermbridge.sqlite');
  console.log(`store: ${seeded} resources, ${(statSync(dbFile).size / 2 ** 20).toFixed(0)} MiB on disk`);

  const server = await ServerProcess.start(dir, join(dir, 'server.log'));
  console.log(`start-up: spawn → /healthcheck 200 in ${server.readyAfterMs.toFixed(0)} ms; VmRSS ${server.memory().rssMiB.toFixed(0)} MiB`);
  const http = new FhirHttp(server.baseUrl, await server.token());
  let i = 0;
  const random = (): number => Math.floor(((i++ * 2654435761) % 2 ** 32) / 2 ** 32 * patients);
  const durationSec = Number(values.duration);
  for (const [name, next] of [
    ['identifier search', () => ({ path: `Patient?identifier=${encodeURIComponent(`${SYSTEM}|p${random()}`)}` })],
    [
      'identifier search + _revinclude',
      () => ({ path: `Patient?identifier=${encodeURIComponent(`${SYSTEM}|p${random() - (random() % 10)}`)}&_revinclude=Observation:subject` }),
    ],
  ] as const) {
    const run = await runHttpLoad(http, { method: 'GET', next }, { connections: 8, durationSec });
    console.log(
      `${name}: ${run.opsPerSec.toFixed(0)}/s (${run.failures} failed), p50 ${run.latency.p50.toFixed(1)} ms, p95 ${run.latency.p95.toFixed(1)} ms, p99 ${run.latency.p99.toFixed(1)} ms`
    );
  }
  console.log(`VmRSS after load: ${server.memory().rssMiB.toFixed(0)} MiB`);
  await server.stop();
}

/** Seeds through createApp's repository (guards included), in transactions of 2,000, with progress. */
async function seed(dir: string, patients: number): Promise<number> {
  const config = loadConfig({}, { dataDir: dir, logLevel: 'silent' });
  const app = createApp(config, { logger: pino({ level: 'silent' }) });
  const have = Number(
    (app.store.reader.prepare("SELECT COUNT(*) AS n FROM resource WHERE type = 'Patient'").get() as { n: number }).n
  );
  const started = performance.now();
  let written = 0;
  for (let from = have; from < patients; from += 2000) {
    const to = Math.min(patients, from + 2000);
    await app.repo.withTransaction(
      async (tx) => {
        for (let k = from; k < to; k++) {
          const patient = await tx.createResource({
            resourceType: 'Patient',
            identifier: [{ system: SYSTEM, value: `p${k}` }],
            name: [{ family: `Family${k % 5000}`, given: [`Given${k % 977}`] }],
            gender: k % 2 ? 'female' : 'male',
            birthDate: `19${String(30 + (k % 70)).padStart(2, '0')}-0${1 + (k % 9)}-1${k % 10}`,
          });
          written++;
          if (k % 10 === 0) {
            await tx.createResource({
              resourceType: 'Observation',
              status: 'final',
              code: { coding: [{ system: 'http://loinc.org', code: '8302-2' }] },
              subject: { reference: `Patient/${patient.id}` },
              valueQuantity: { value: 150 + (k % 50), unit: 'cm', system: 'http://unitsofmeasure.org', code: 'cm' },
            });
            written++;
          }
        }
      },
      { resourceTypes: ['Patient', 'Observation'] }
    );
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(`\rseeding: ${to}/${patients} Patients (${(written / seconds).toFixed(0)} resources/s)   `);
  }
  if (written) {
    process.stdout.write('\n');
  }
  const count = (app.store.reader.prepare('SELECT COUNT(*) AS n FROM resource').get() as { n: number }).n;
  await app.close();
  return Number(count);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
