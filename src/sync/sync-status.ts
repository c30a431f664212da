/** What an operator asks first: where the pull stands, and which results did not reach the EHR. */
import type { MedplumClient } from '@medplum/core';
import { PULL_STREAM } from './pull/pull-sync';
import { listPushRecords, readCheckpoint, type PushRecord } from './sync-records';

export interface SyncStatus {
  readonly ehr: string;
  readonly pull: { readonly checkpoint?: string; readonly lastRun?: unknown };
  readonly push: { readonly sent: number; readonly pending: number; readonly failed: readonly PushRecord[] };
}

export async function readSyncStatus(store: MedplumClient, ehrName: string): Promise<SyncStatus> {
  const checkpoint = await readCheckpoint(store, ehrName, PULL_STREAM);
  const [sent, pending, failed] = await Promise.all([
    listPushRecords(store, 'sent', ehrName),
    listPushRecords(store, 'pending', ehrName),
    listPushRecords(store, 'failed', ehrName),
  ]);
  return {
    ehr: ehrName,
    pull: { checkpoint: checkpoint.since, lastRun: checkpoint.lastRun ? (JSON.parse(checkpoint.lastRun) as unknown) : undefined },
    push: { sent: sent.length, pending: pending.length, failed },
  };
}

export function formatSyncStatus(status: SyncStatus): string {
  const lines = [
    `EHR ${status.ehr}`,
    `  pull checkpoint: ${status.pull.checkpoint ?? 'none (next pull starts from the beginning)'}`,
    `  last pull: ${status.pull.lastRun ? JSON.stringify(status.pull.lastRun) : 'never'}`,
    `  push: ${status.push.sent} sent, ${status.push.pending} pending, ${status.push.failed.length} failed`,
    ...status.push.failed.map((f) => `    ${f.result}: attempt ${f.attempts} failed (${f.lastError ?? '?'}); next attempt after ${f.nextAttemptAt ?? 'now'}`),
  ];
  return lines.join('\n');
}
