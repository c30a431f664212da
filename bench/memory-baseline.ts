import { getStatus } from '@medplum/core';
import type { FhirRequest } from '@medplum/fhir-router';
import { FhirRouter, makeSimpleRequest, MemoryRepository } from '@medplum/fhir-router';
import type { Bundle } from '@medplum/fhirtypes';
import { loadBaseDefinitions } from '../src/fhir/definitions';
import type { RunResult } from './stats';
import { latencyOf } from './stats';
import { ingestBundle, MRN_SYSTEM, patient, seededMrn, transactionBundle } from './workloads/fixtures';
import type { WorkloadKey } from './workloads/http-workloads';

/**
 * The baseline: Medplum's own in-process engine with nothing around it — `FhirRouter` on a bare
 * `MemoryRepository` (no HTTP, no auth, no durability, no validation, no audit), driven by
 * `connections` concurrent async loops. Its search is a scan of every resource of the type, so the
 * store holds the same number of seeded Patients as the server's read/search workloads use.
 */
export type BaselineKey = Extract<WorkloadKey, 'create' | 'read' | 'search' | 'transaction' | 'batch'>;
export const BASELINE_KEYS: readonly BaselineKey[] = ['read', 'search', 'create', 'transaction', 'batch'];

export interface BaselineOptions {
  readonly connections: number;
  readonly durationSec: number;
  readonly patients: number;
  readonly ingestBundleSize: number;
}

interface Setup {
  readonly router: FhirRouter;
  readonly repo: MemoryRepository;
  readonly patientIds: string[];
}

let sequence = 0;

/** A fresh repository with `patients` seeded Patients, so every run starts from the same store. */
async function setup(patients: number): Promise<Setup> {
  loadBaseDefinitions();
  const repo = new MemoryRepository();
  const patientIds: string[] = [];
  for (let i = 0; i < patients; i++) {
    patientIds.push((await repo.createResource(patient(seededMrn(i)))).id);
  }
  return { router: new FhirRouter(), repo, patientIds };
}

function requestFor(key: BaselineKey, s: Setup, options: BaselineOptions, i: number): FhirRequest {
  const n = s.patientIds.length;
  switch (key) {
    case 'read':
      return makeSimpleRequest('GET', `Patient/${s.patientIds[i % n]}`);
    case 'search':
      return makeSimpleRequest('GET', `Patient?identifier=${encodeURIComponent(`${MRN_SYSTEM}|${seededMrn(i % n)}`)}`);
    case 'create':
      return makeSimpleRequest('POST', 'Patient', patient(`b-${sequence++}`));
    case 'transaction':
      return { ...makeSimpleRequest('POST', '', transactionBundle(`b-${sequence++}`)), config: { transactions: true } };
    case 'batch':
      return { ...makeSimpleRequest('POST', '', ingestBundle(options.ingestBundleSize, s.patientIds, i)), config: { transactions: true } };
  }
}

function resourcesPerOp(key: BaselineKey, options: BaselineOptions): number | undefined {
  return key === 'transaction' ? 10 : key === 'batch' ? options.ingestBundleSize : undefined;
}

/** One measured run: `connections` loops issue router requests back to back for `durationSec`. */
export async function runBaseline(key: BaselineKey, options: BaselineOptions): Promise<RunResult> {
  const s = await setup(options.patients);
  const samples: number[] = [];
  let failures = 0;
  let counter = 0;
  const started = performance.now();
  const deadline = started + options.durationSec * 1000;
  const loop = async (): Promise<void> => {
    let sinceYield = 0;
    while (performance.now() < deadline) {
      const request = requestFor(key, s, options, counter++);
      const t0 = performance.now();
      const [outcome, result] = await s.router.handleRequest(request, s.repo);
      samples.push(performance.now() - t0);
      if (getStatus(outcome) >= 300 || !bundleOk(result)) {
        failures++;
      }
      // MemoryRepository never waits on I/O; yield now and then so the loops interleave fairly.
      if (++sinceYield >= 50) {
        sinceYield = 0;
        await new Promise((r) => setImmediate(r));
      }
    }
  };
  await Promise.all(Array.from({ length: options.connections }, loop));
  const seconds = (performance.now() - started) / 1000;
  const ok = samples.length - failures;
  const perOp = resourcesPerOp(key, options);
  return {
    opsPerSec: ok / seconds,
    ...(perOp ? { resourcesPerSec: (ok / seconds) * perOp } : {}),
    latency: latencyOf(samples),
    ops: ok,
    failures,
  };
}

function bundleOk(result: unknown): boolean {
  const bundle = result as Bundle | undefined;
  if (bundle?.resourceType !== 'Bundle' || !bundle.type?.endsWith('-response')) {
    return true;
  }
  return (bundle.entry ?? []).every((e) => (e.response?.status ?? '').startsWith('2'));
}
