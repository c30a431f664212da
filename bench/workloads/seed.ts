import type { Bundle, Patient, Task } from '@medplum/fhirtypes';
import type { FhirHttp } from '../http-client';
import { createTransaction, patient, queueTask, rng, seededMrn } from './fixtures';

export interface SeedResult {
  readonly count: number;
  readonly seconds: number;
  readonly resourcesPerSec: number;
}

/** How many transaction bundles are in flight at once while seeding. */
const SEED_CONCURRENCY = 4;

/** Seeds `count` Patients (identifiers seed-0 …) and returns their ids in order. */
export async function seedPatients(http: FhirHttp, count: number, bundleSize: number): Promise<{ ids: string[]; result: SeedResult }> {
  const ids: string[] = new Array<string>(count);
  const result = await seedInBundles('Patients', count, bundleSize, async (start, end) => {
    const resources: Patient[] = [];
    for (let i = start; i < end; i++) {
      resources.push(patient(seededMrn(i)));
    }
    const response = await http.request<Bundle>('POST', '', createTransaction(resources));
    response.entry?.forEach((e, k) => {
      const id = e.resource?.id ?? e.response?.location?.split('/')[1];
      if (!id) {
        throw new Error(`seeding: no id in transaction response entry ${k}`);
      }
      ids[start + k] = id;
    });
  });
  return { ids, result };
}

/** Seeds `count` review-queue Tasks in transaction bundles over HTTP, printing progress. */
export async function seedTasks(http: FhirHttp, count: number, bundleSize: number, patientIds: readonly string[]): Promise<SeedResult> {
  return seedInBundles('Tasks', count, bundleSize, async (start, end) => {
    // Each bundle draws from its own seeded generator, so the store is the same whatever the interleaving.
    const random = rng(start + 1);
    const resources: Task[] = [];
    for (let i = start; i < end; i++) {
      resources.push(queueTask(i, patientIds, random));
    }
    await http.request<Bundle>('POST', '', createTransaction(resources));
  });
}

async function seedInBundles(what: string, count: number, bundleSize: number, send: (start: number, end: number) => Promise<void>): Promise<SeedResult> {
  const started = performance.now();
  let nextStart = 0;
  let done = 0;
  let lastReport = started;
  const report = (force: boolean): void => {
    const now = performance.now();
    if (!force && now - lastReport < 2000) {
      return;
    }
    lastReport = now;
    const rate = done / ((now - started) / 1000);
    process.stdout.write(`    seeding ${what}: ${done}/${count} (${Math.round((100 * done) / count)}%, ${Math.round(rate)}/s)\n`);
  };
  const worker = async (): Promise<void> => {
    while (nextStart < count) {
      const start = nextStart;
      const end = Math.min(count, start + bundleSize);
      nextStart = end;
      await send(start, end);
      done += end - start;
      report(false);
    }
  };
  await Promise.all(Array.from({ length: SEED_CONCURRENCY }, worker));
  report(true);
  const seconds = (performance.now() - started) / 1000;
  return { count, seconds, resourcesPerSec: count / seconds };
}
