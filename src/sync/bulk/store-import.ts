/**
 * NDJSON import straight into the embedded store, through its bulk write path: each batch is one
 * SQLite transaction (one fsync), validated and indexed like any write, with a refused line
 * reported and skipped while the rest of the batch commits. Upsert by id, so re-importing the same
 * file changes nothing. Each batch leaves one AuditEvent naming the source, the agent, every
 * resource created or updated and every patient touched, committed in the same transaction as the
 * data it describes. https://hl7.org/fhir/uv/bulkdata/export.html#bulk-data-output-file-format
 */
import type { MedplumClient } from '@medplum/core';
import type { Readable } from 'node:stream';
import type { AuditLog } from '../../audit/audit-log';
import type { BulkBatchWritten } from '../../fhir/store/bulk-writer';
import type { SqliteRepository } from '../../fhir/store/sqlite-repository';
import { emptySummary, recordFailure, type SyncSummary } from '../sync-summary';
import { importedContent, importNdjson, streamNdjson, type ImportOptions, type PendingLine } from './ndjson-import';

/** Who runs the import, as the audit trail names them. */
export interface ImportAgent {
  /** e.g. `ClientApplication/dermbridge-demo`, or `Device/dermbridge-cli` for a local run. */
  readonly agent: string;
  readonly clientId: string;
  readonly tokenId: string;
  readonly sourceAddress?: string;
}

export interface StoreImportTarget {
  readonly repo: SqliteRepository;
  readonly audit: AuditLog;
  readonly agent: ImportAgent;
}

/**
 * Resources per transaction: large enough that the fsync and statement overhead vanish per
 * resource, small enough that a batch (validation included) holds the writer for well under a
 * second and memory stays bounded (at most concurrency × batchSize resources held).
 */
export const STORE_BATCH_SIZE = 1000;

export async function importNdjsonIntoStore(target: StoreImportTarget, input: Readable, options: ImportOptions = {}, summary = emptySummary(options.dryRun)): Promise<SyncSummary> {
  return streamNdjson(input, options, summary, STORE_BATCH_SIZE, (lines, sum, source) => writeBatch(target, lines, sum, source));
}

/** Into the embedded store's bulk path when we hold it, else through the FHIR API. */
export function importNdjsonInto(target: MedplumClient | StoreImportTarget, input: Readable, options: ImportOptions = {}, summary = emptySummary(options.dryRun)): Promise<SyncSummary> {
  return 'repo' in target ? importNdjsonIntoStore(target, input, options, summary) : importNdjson(target, input, options, summary);
}

async function writeBatch(target: StoreImportTarget, lines: PendingLine[], summary: SyncSummary, source: string): Promise<void> {
  const first = lines[0].lineNumber;
  const last = lines[lines.length - 1].lineNumber;
  const audit = (batch: BulkBatchWritten): void => {
    const counts = { created: 0, updated: 0, unchanged: 0, failed: 0 };
    for (const o of batch.outcomes) {
      counts[o.status]++;
    }
    target.audit.recordInTransaction({
      action: counts.updated > 0 && counts.created === 0 ? 'U' : 'C',
      interaction: 'batch',
      // Refused lines are the data's fault, not an access failure; the description counts them.
      outcome: counts.failed > 0 ? '4' : '0',
      outcomeDesc: counts.failed > 0 ? `${counts.failed} of ${batch.outcomes.length} resources refused` : undefined,
      agent: target.agent.agent,
      clientId: target.agent.clientId,
      tokenId: target.agent.tokenId,
      sourceAddress: target.agent.sourceAddress,
      entities: batch.written,
      patients: batch.patients,
      dataSet: {
        name: source,
        description: `bulk NDJSON import, lines ${first}-${last}: created ${counts.created}, updated ${counts.updated}, unchanged ${counts.unchanged}, refused ${counts.failed}`,
      },
    });
  };
  let outcomes;
  try {
    outcomes = await target.repo.bulkUpsert(
      lines.map((l) => importedContent(l.resource)),
      { beforeCommit: audit }
    );
  } catch (err) {
    // The whole transaction rolled back (a full disk, a broken database): nothing of it is stored.
    const reason = (err as Error).message;
    lines.forEach((l) => recordFailure(summary, `${source} line ${l.lineNumber}`, `batch refused: ${reason}`));
    return;
  }
  outcomes.forEach((outcome, i) => {
    if (outcome.status === 'failed') {
      const { lineNumber, resource } = lines[i];
      recordFailure(summary, `${source} line ${lineNumber} (${resource.resourceType}/${resource.id ?? 'new'})`, outcome.reason);
    } else {
      summary[outcome.status]++;
    }
  });
}
