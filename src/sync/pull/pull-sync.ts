/**
 * Incremental pull of e-consult ServiceRequests from an EHR: search by `_lastUpdated` from the
 * stored checkpoint, sorted, page by page; after each page the checkpoint advances to the newest
 * `lastUpdated` on it, so a crash resumes from the last finished page. `ge` (not `gt`) re-reads
 * the boundary resources, which the identifier upserts turn into "unchanged".
 */
import type { MedplumClient } from '@medplum/core';
import type { ServiceRequest } from '@medplum/fhirtypes';
import type { EhrClient } from '../ehr-client';
import { readCheckpoint, writeCheckpoint } from '../sync-records';
import { emptySummary, type SyncSummary } from '../sync-summary';
import { failureReason } from '../store-upsert';
import { CaseImporter, DEFAULT_CONTEXT_TYPES, matches } from './case-import';
import { searchPages } from './search-pages';

export const PULL_STREAM = 'pull-servicerequest';

export interface PullOptions {
  readonly ehr: EhrClient;
  readonly store: MedplumClient;
  readonly ehrName: string;
  readonly mrnSystem: string;
  /** Extra search parameters that pick the e-consults, e.g. `category=http://snomed.info/sct|3457005`. */
  readonly serviceRequestQuery?: string;
  readonly pageSize?: number;
  readonly contextTypes?: readonly string[];
  readonly dryRun?: boolean;
  /** Stop (as a crash would) after this many pages; the checkpoint stays where it is. */
  readonly stopAfterPages?: number;
  readonly onPage?: (progress: { pages: number; serviceRequests: number; summary: SyncSummary }) => void;
}

export interface PullResult {
  readonly summary: SyncSummary;
  readonly pages: number;
  readonly serviceRequests: number;
  readonly checkpoint?: string;
  /** False when the run stopped at `stopAfterPages` or on an error; the next run resumes from `checkpoint`. */
  readonly complete: boolean;
}

export async function pullSync(o: PullOptions): Promise<PullResult> {
  const summary = emptySummary(o.dryRun);
  const start = await readCheckpoint(o.store, o.ehrName, PULL_STREAM);
  let checkpoint = start.since;
  const importer = new CaseImporter({
    ehr: o.ehr,
    store: o.store,
    ehrName: o.ehrName,
    mrnSystem: o.mrnSystem,
    contextTypes: o.contextTypes ?? DEFAULT_CONTEXT_TYPES,
    dryRun: o.dryRun ?? false,
    summary,
  });
  let pages = 0;
  let serviceRequests = 0;
  let stoppedEarly = false;
  try {
    for await (const page of searchPages<ServiceRequest>(o.ehr, firstPageUrl(o, checkpoint))) {
      const requests = matches(page);
      for (const serviceRequest of requests) {
        await importer.importServiceRequest(serviceRequest);
      }
      serviceRequests += requests.length;
      pages++;
      checkpoint = newest(checkpoint, requests.map((r) => r.meta?.lastUpdated));
      if (!o.dryRun && checkpoint !== start.since) {
        await writeCheckpoint(o.store, o.ehrName, PULL_STREAM, { since: checkpoint, lastRun: start.lastRun });
      }
      o.onPage?.({ pages, serviceRequests, summary });
      if (o.stopAfterPages !== undefined && pages >= o.stopAfterPages) {
        stoppedEarly = true;
        break;
      }
    }
  } catch (err) {
    summary.aborted = failureReason(err);
  }
  if (!o.dryRun) {
    const lastRun = JSON.stringify({ at: new Date().toISOString(), pages, serviceRequests, ...summary, failures: summary.failures.slice(0, 20) });
    await writeCheckpoint(o.store, o.ehrName, PULL_STREAM, { since: checkpoint, lastRun });
  }
  return { summary, pages, serviceRequests, checkpoint, complete: !stoppedEarly && summary.aborted === undefined };
}

function firstPageUrl(o: PullOptions, since: string | undefined): string {
  const params = new URLSearchParams(o.serviceRequestQuery ?? '');
  if (since) {
    params.set('_lastUpdated', `ge${since}`);
  }
  params.set('_sort', '_lastUpdated');
  params.set('_count', String(o.pageSize ?? 50));
  return `ServiceRequest?${params.toString()}`;
}

function newest(current: string | undefined, candidates: (string | undefined)[]): string | undefined {
  let best = current;
  for (const c of candidates) {
    if (c && (!best || Date.parse(c) > Date.parse(best))) {
      best = c;
    }
  }
  return best;
}
