import type { HttpRequestSpec } from '../http-load';
import { ingestBundle, MRN_SYSTEM, patient, queueQuery, seededMrn, transactionBundle } from './fixtures';

/** The workloads measured over HTTP, in the order they run. Keys are shared with the baseline and the report. */
export type WorkloadKey = 'create' | 'read' | 'search' | 'transaction' | 'batch' | 'queue';

export interface HttpWorkload {
  readonly key: WorkloadKey;
  readonly spec: HttpRequestSpec;
}

export interface HttpWorkloadContext {
  /** Ids of the seeded Patients, in identifier order (seed-0, seed-1, …). */
  readonly patientIds: readonly string[];
  readonly ingestBundleSize: number;
}

/** A process-wide counter, so identifiers stay unique across workloads, runs and warm-ups. */
let sequence = 0;
const runTag = Date.now().toString(36);
function unique(): string {
  return `${runTag}-${sequence++}`;
}

export function httpWorkloads(ctx: HttpWorkloadContext): HttpWorkload[] {
  const n = ctx.patientIds.length;
  let cursor = 0;
  return [
    {
      key: 'read',
      spec: { method: 'GET', next: () => ({ path: `Patient/${ctx.patientIds[cursor++ % n]}` }) },
    },
    {
      key: 'search',
      spec: {
        method: 'GET',
        next: () => ({ path: `Patient?identifier=${encodeURIComponent(`${MRN_SYSTEM}|${seededMrn(cursor++ % n)}`)}` }),
      },
    },
    {
      key: 'create',
      spec: { method: 'POST', next: () => ({ path: 'Patient', body: patient(`c-${unique()}`) }) },
    },
    {
      key: 'transaction',
      spec: { method: 'POST', resourcesPerRequest: 10, next: () => ({ path: '', body: transactionBundle(unique()) }) },
    },
    {
      key: 'batch',
      spec: {
        method: 'POST',
        resourcesPerRequest: ctx.ingestBundleSize,
        next: () => ({ path: '', body: ingestBundle(ctx.ingestBundleSize, ctx.patientIds, cursor++) }),
      },
    },
    {
      key: 'queue',
      spec: { method: 'GET', next: () => ({ path: queueQuery(cursor++) }) },
    },
  ];
}
