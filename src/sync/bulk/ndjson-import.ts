/**
 * Streaming NDJSON import: lines are read, parsed and written in batches, into the embedded store
 * through its bulk write path (`store-import.ts`), or into any FHIR server as Bundles of
 * `batchSize` entries (`PUT Type/id` when the line has an id, so a re-import is idempotent;
 * `POST` otherwise), with at most `concurrency` batches in flight. Reading waits for a free
 * slot, so memory holds at most concurrency × batchSize resources whatever the input size.
 * A line that is not JSON or not a resource, or an entry the store refuses, is counted and reported;
 * the import goes on. https://hl7.org/fhir/uv/bulkdata/export.html#bulk-data-output-file-format
 */
import type { MedplumClient } from '@medplum/core';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { emptySummary, recordFailure, type SyncSummary } from '../sync-summary';
import { failureReason } from '../store-upsert';

export interface ImportOptions {
  readonly batchSize?: number;
  readonly concurrency?: number;
  readonly dryRun?: boolean;
  /** Names the input in failure reports (a file name, a URL). */
  readonly source?: string;
  readonly onProgress?: (lines: number, summary: SyncSummary) => void;
}

export interface PendingLine {
  readonly lineNumber: number;
  readonly resource: Resource;
}

/** Writes one batch of parsed lines and counts each line's outcome into the summary. */
export type BatchSender = (lines: PendingLine[], summary: SyncSummary, source: string) => Promise<void>;

/** Through any FHIR server's API (a real Medplum): Bundles of PUT/POST entries. */
export async function importNdjson(store: MedplumClient, input: Readable, options: ImportOptions = {}, summary = emptySummary(options.dryRun)): Promise<SyncSummary> {
  return streamNdjson(input, options, summary, 500, (lines, sum, source) => sendBatch(store, lines, sum, source));
}

/**
 * The streaming half shared by every target: reads lines, reports the ones that are not
 * resources, and hands batches of `batchSize` to `send` with at most `concurrency` in flight.
 */
export async function streamNdjson(input: Readable, options: ImportOptions, summary: SyncSummary, defaultBatchSize: number, send: BatchSender): Promise<SyncSummary> {
  const batchSize = options.batchSize ?? defaultBatchSize;
  const concurrency = options.concurrency ?? 2;
  const source = options.source ?? 'input';
  const inFlight = new Set<Promise<void>>();
  let batch: PendingLine[] = [];
  let lineNumber = 0;
  const flush = async (): Promise<void> => {
    const lines = batch;
    batch = [];
    if (lines.length === 0) {
      return;
    }
    const sending = (options.dryRun ? dryRunBatch(lines, summary) : send(lines, summary, source)).finally(() => inFlight.delete(sending));
    inFlight.add(sending);
    while (inFlight.size >= concurrency) {
      await Promise.race(inFlight);
    }
    options.onProgress?.(lineNumber, summary);
  };
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    lineNumber++;
    if (line.trim() === '') {
      continue;
    }
    const resource = parseLine(line);
    if (typeof resource === 'string') {
      recordFailure(summary, `${source} line ${lineNumber}`, resource);
      continue;
    }
    batch.push({ lineNumber, resource });
    if (batch.length >= batchSize) {
      await flush();
    }
  }
  await flush();
  await Promise.all(inFlight);
  options.onProgress?.(lineNumber, summary);
  return summary;
}

/** The resource, or why the line is not one. */
function parseLine(line: string): Resource | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return `not JSON (${(err as Error).message})`;
  }
  if (!value || typeof value !== 'object' || typeof (value as Resource).resourceType !== 'string') {
    return 'not a FHIR resource (no resourceType)';
  }
  return value as Resource;
}

async function dryRunBatch(lines: PendingLine[], summary: SyncSummary): Promise<void> {
  summary.created += lines.length; // parsed and would be sent; the store is not asked
}

async function sendBatch(store: MedplumClient, lines: PendingLine[], summary: SyncSummary, source: string): Promise<void> {
  const sentAt = Date.now();
  const entry = lines.map(({ resource }) => toEntry(resource));
  let response: Bundle;
  try {
    // A transaction is one store commit (fast); if anything in it is refused, the same entries go
    // again as a batch, which reports each entry's own outcome.
    response = await store.executeBatch({ resourceType: 'Bundle', type: 'transaction', entry }).catch(() =>
      store.executeBatch({ resourceType: 'Bundle', type: 'batch', entry })
    );
  } catch (err) {
    const reason = failureReason(err);
    lines.forEach((l) => recordFailure(summary, `${source} line ${l.lineNumber}`, `batch refused: ${reason}`));
    return;
  }
  lines.forEach((line, i) => {
    const entry = response.entry?.[i]?.response;
    const lastModified = entry?.lastModified ?? response.entry?.[i]?.resource?.meta?.lastUpdated;
    const status = Number.parseInt(entry?.status ?? '0', 10);
    if (status === 201) {
      summary.created++;
    } else if (status === 200) {
      // An update that changed nothing keeps its old lastUpdated (the store wrote no version).
      const unchanged = lastModified !== undefined && Date.parse(lastModified) < sentAt;
      summary[unchanged ? 'unchanged' : 'updated']++;
    } else {
      const outcome = entry?.outcome as { issue?: { diagnostics?: string; details?: { text?: string } }[] } | undefined;
      const reason = outcome?.issue?.map((i) => i.diagnostics ?? i.details?.text).filter(Boolean).join('; ') || `status ${entry?.status ?? 'missing'}`;
      recordFailure(summary, `${source} line ${line.lineNumber} (${line.resource.resourceType}/${line.resource.id ?? 'new'})`, reason);
    }
  });
}

/** The resource as this store keeps it: server-owned meta (versionId, lastUpdated, source) is the exporter's, not ours; profiles and tags are content. */
export function importedContent(resource: Resource): Resource {
  const { meta, ...rest } = resource;
  return (meta?.profile || meta?.tag ? { ...rest, meta: { profile: meta.profile, tag: meta.tag } } : rest) as Resource;
}

function toEntry(resource: Resource): BundleEntry {
  const content = importedContent(resource);
  return resource.id
    ? { resource: content, request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` } }
    : { resource: content, request: { method: 'POST', url: resource.resourceType } };
}
