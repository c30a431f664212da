/**
 * FHIR Bulk Data export from an EHR: kick-off (`$export`, `Prefer: respond-async`), poll the
 * status URL (honouring `Retry-After`, with backoff when absent), then stream each NDJSON output
 * file into the store. https://hl7.org/fhir/uv/bulkdata/export.html
 */
import type { MedplumClient } from '@medplum/core';
import { Readable } from 'node:stream';
import type { BackendServicesClient } from '../backend-services/token-client';
import { EhrError, type EhrClient } from '../ehr-client';
import { emptySummary, type SyncSummary } from '../sync-summary';
import type { ImportOptions } from './ndjson-import';
import { importNdjsonInto, type StoreImportTarget } from './store-import';

export interface BulkManifest {
  readonly transactionTime: string;
  readonly requiresAccessToken?: boolean;
  readonly output: readonly { readonly type: string; readonly url: string; readonly count?: number }[];
  readonly error?: readonly { readonly type: string; readonly url: string }[];
}

export interface BulkExportOptions {
  readonly ehr: EhrClient;
  readonly tokens: BackendServicesClient;
  /** `$export` at the system level by default; e.g. `Group/<id>/$export` or `Patient/$export`. */
  readonly exportPath?: string;
  readonly types?: readonly string[];
  readonly since?: string;
  readonly pollIntervalMs?: number;
  readonly maxPollMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly fetch?: typeof fetch;
}

/** Starts an export and waits for its manifest. */
export async function runBulkExport(o: BulkExportOptions): Promise<BulkManifest> {
  const params = new URLSearchParams();
  if (o.types?.length) {
    params.set('_type', o.types.join(','));
  }
  if (o.since) {
    params.set('_since', o.since);
  }
  const query = params.toString();
  const kickoff = await o.ehr.get<object>(`${o.exportPath ?? '$export'}${query ? `?${query}` : ''}`, { prefer: 'respond-async' });
  const statusUrl = kickoff.headers.get('content-location');
  if (kickoff.status !== 202 || !statusUrl) {
    throw new EhrError('ERR_EHR_HTTP', `$export kick-off answered HTTP ${kickoff.status} without a Content-Location status URL`, kickoff.status);
  }
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const deadline = Date.now() + (o.maxPollMs ?? 6 * 60 * 60_000);
  let interval = o.pollIntervalMs ?? 1000;
  while (Date.now() < deadline) {
    const status = await o.ehr.get<BulkManifest>(statusUrl);
    if (status.status === 200) {
      if (!Array.isArray(status.body.output)) {
        throw new EhrError('ERR_EHR_MALFORMED_JSON', `$export status ${statusUrl} answered 200 without an output list`);
      }
      return status.body;
    }
    const retryAfter = Number(status.headers.get('retry-after'));
    await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : interval);
    interval = Math.min(interval * 2, 60_000);
  }
  throw new EhrError('ERR_EHR_UNAVAILABLE', `$export at ${statusUrl} did not complete in time`);
}

/** Downloads every output file of the manifest, streaming each into the store. */
export async function importBulkManifest(
  store: MedplumClient | StoreImportTarget,
  manifest: BulkManifest,
  o: Pick<BulkExportOptions, 'tokens' | 'fetch'>,
  importOptions: ImportOptions = {}
): Promise<SyncSummary> {
  const fetchImpl = o.fetch ?? globalThis.fetch;
  const summary = emptySummary(importOptions.dryRun);
  for (const file of inDependencyOrder(manifest.output)) {
    const headers: Record<string, string> = { accept: 'application/fhir+ndjson' };
    if (manifest.requiresAccessToken) {
      headers.authorization = `Bearer ${await o.tokens.accessToken()}`;
    }
    const res = await fetchImpl(file.url, { headers });
    if (!res.ok || !res.body) {
      summary.failed++;
      summary.failures.push({ item: file.url, reason: `download failed: HTTP ${res.status}` });
      continue;
    }
    await importNdjsonInto(store, Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), { ...importOptions, source: file.url }, summary);
  }
  return summary;
}

/**
 * Referenced types first: the store checks that references resolve, so Practitioners and
 * Patients must be in before the Conditions that point at them. Other types keep their order.
 */
const IMPORT_ORDER = ['Organization', 'Location', 'Practitioner', 'PractitionerRole', 'Patient', 'RelatedPerson', 'Medication', 'Encounter'];

export function inDependencyOrder<T extends { readonly type: string }>(files: readonly T[]): T[] {
  const rank = (type: string): number => {
    const i = IMPORT_ORDER.indexOf(type);
    return i === -1 ? IMPORT_ORDER.length : i;
  };
  return files
    .map((file, index) => ({ file, index }))
    .sort((a, b) => rank(a.file.type) - rank(b.file.type) || a.index - b.index)
    .map(({ file }) => file);
}
