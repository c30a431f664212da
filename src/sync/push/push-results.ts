/**
 * Closed loop: completed consult results go back to the EHR that referred the case. A result is a
 * final DiagnosticReport, a completed Communication (the answer to the PCP) or a referral
 * ServiceRequest, `basedOn` an e-consult pulled from that EHR. Each is written with a conditional
 * create keyed on its store id (`If-None-Exist: identifier=<result system>|DiagnosticReport/<id>`),
 * so it is never written twice, even if a push record was lost after the EHR accepted it. Progress
 * is a push record per result (pending → sent | failed, attempts, last error, next attempt).
 */
import type { MedplumClient } from '@medplum/core';
import type { Resource, ServiceRequest } from '@medplum/fhirtypes';
import type { EhrClient } from '../ehr-client';
import { RESULT_ID_SYSTEM, sourceIdSystem } from '../sync-identifiers';
import { readPushRecord, writePushRecord, type PushRecord } from '../sync-records';
import { emptySummary, recordFailure, type SyncSummary } from '../sync-summary';
import { failureReason } from '../store-upsert';
import { EhrReferenceMapper } from './ehr-reference-mapper';

/** Between runs a failed push waits 30 s, 1 min, 2 min ... at most an hour. */
export function nextAttemptDelayMs(attempts: number): number {
  return Math.min(60 * 60_000, 30_000 * 2 ** Math.max(0, attempts - 1));
}

export interface PushOptions {
  readonly ehr: EhrClient;
  readonly store: MedplumClient;
  readonly ehrName: string;
  readonly dryRun?: boolean;
  /** Retry failed pushes now, ignoring their scheduled next attempt. */
  readonly retryNow?: boolean;
  readonly now?: () => Date;
  readonly onResult?: (done: number) => void;
}

const RESULT_QUERIES: readonly [string, string][] = [
  ['DiagnosticReport', 'status=final,amended,corrected'],
  ['Communication', 'status=completed'],
  ['ServiceRequest', 'status=active,completed'],
];

export async function pushResults(o: PushOptions): Promise<SyncSummary> {
  const summary = emptySummary(o.dryRun);
  const now = o.now ?? (() => new Date());
  const mapper = new EhrReferenceMapper(o.store, o.ehrName);
  let done = 0;
  for await (const econsult of pulledServiceRequests(o.store, o.ehrName)) {
    for (const [type, statusQuery] of RESULT_QUERIES) {
      const results = await o.store.searchResources(type as 'DiagnosticReport', `based-on=ServiceRequest/${econsult.id}&${statusQuery}&_count=1000`, { cache: 'no-cache' });
      for (const result of results) {
        await pushOne(o, mapper, summary, result, now());
        o.onResult?.(++done);
      }
    }
  }
  return summary;
}

async function pushOne(o: PushOptions, mapper: EhrReferenceMapper, summary: SyncSummary, result: Resource, now: Date): Promise<void> {
  const key = `${result.resourceType}/${result.id}`;
  const fromThisEhr = (result as { identifier?: { system?: string }[] }).identifier?.some((i) => i.system === sourceIdSystem(o.ehrName, result.resourceType));
  if (fromThisEhr) {
    return; // pulled from this EHR (an order based on the e-consult), not a result of ours
  }
  const record = await readPushRecord(o.store, o.ehrName, key);
  if (record?.status === 'sent') {
    summary.unchanged++;
    return;
  }
  if (record?.status === 'failed' && !o.retryNow && record.nextAttemptAt && Date.parse(record.nextAttemptAt) > now.getTime()) {
    recordFailure(summary, key, `attempt ${record.attempts} failed (${record.lastError ?? 'unknown'}); next attempt after ${record.nextAttemptAt}`);
    return;
  }
  if (o.dryRun) {
    summary.created++;
    return;
  }
  const attempts = (record?.attempts ?? 0) + 1;
  try {
    const body = await mapper.toEhr(result);
    const identifierQuery = `identifier=${encodeURIComponent(`${RESULT_ID_SYSTEM}|${key}`)}`;
    const res = await o.ehr.post<Resource>(result.resourceType, body, { 'If-None-Exist': identifierQuery });
    // 201: written now; 200: the EHR already had it (an earlier attempt whose answer was lost).
    if (res.status === 201) {
      summary.created++;
    } else {
      summary.unchanged++;
    }
    await writePushRecord(o.store, base(o, key, 'sent', attempts, now, { ehrReference: `${result.resourceType}/${res.body.id ?? ''}` }));
  } catch (err) {
    const reason = failureReason(err);
    recordFailure(summary, key, reason);
    const nextAttemptAt = new Date(now.getTime() + nextAttemptDelayMs(attempts)).toISOString();
    await writePushRecord(o.store, base(o, key, 'failed', attempts, now, { lastError: reason, nextAttemptAt }));
  }
}

function base(o: PushOptions, result: string, status: PushRecord['status'], attempts: number, now: Date, rest: Partial<PushRecord>): PushRecord {
  return { result, ehrName: o.ehrName, status, attempts, updatedAt: now.toISOString(), ...rest };
}

/** E-consults pulled from this EHR: they carry its source identifier. */
async function* pulledServiceRequests(store: MedplumClient, ehrName: string): AsyncGenerator<ServiceRequest> {
  const system = sourceIdSystem(ehrName, 'ServiceRequest');
  for await (const page of store.searchResourcePages('ServiceRequest', `identifier=${encodeURIComponent(`${system}|`)}&_count=200`)) {
    for (const sr of page) {
      if (sr.identifier?.some((i) => i.system === system)) {
        yield sr;
      }
    }
  }
}
