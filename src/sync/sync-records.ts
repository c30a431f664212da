/**
 * Sync state lives in the store as FHIR `Basic` resources keyed by an identifier, never only in
 * memory: any process (CLI, admin API, another replica) resumes from, and reports on, the same state.
 *   checkpoint  — per EHR and stream: the `_lastUpdated` to resume from, and the last run's summary
 *   push record — per result and EHR: pending | sent | failed, attempts, last error, EHR reference
 */
import type { MedplumClient } from '@medplum/core';
import type { Basic, Extension } from '@medplum/fhirtypes';
import { CHECKPOINT_ID_SYSTEM, PUSH_RECORD_ID_SYSTEM, SYNC_CODE_SYSTEM, SYNC_EXTENSION_BASE } from './sync-identifiers';
import { upsertByIdentifier } from './store-upsert';

const ext = (name: string): string => `${SYNC_EXTENSION_BASE}-${name}`;

export interface Checkpoint {
  /** Resume the search at `_lastUpdated=ge<since>`; undefined = from the beginning. */
  readonly since?: string;
  /** JSON summary of the last run, for `sync status`. */
  readonly lastRun?: string;
}

export async function readCheckpoint(store: MedplumClient, ehrName: string, stream: string): Promise<Checkpoint> {
  const basic = await findBasic(store, CHECKPOINT_ID_SYSTEM, `${ehrName}:${stream}`);
  return { since: extValue(basic, 'since')?.valueInstant, lastRun: extValue(basic, 'last-run')?.valueString };
}

export async function writeCheckpoint(store: MedplumClient, ehrName: string, stream: string, checkpoint: Checkpoint): Promise<void> {
  const value = `${ehrName}:${stream}`;
  const extension: Extension[] = [];
  if (checkpoint.since) {
    extension.push({ url: ext('since'), valueInstant: checkpoint.since });
  }
  if (checkpoint.lastRun) {
    extension.push({ url: ext('last-run'), valueString: checkpoint.lastRun });
  }
  const basic: Basic = {
    resourceType: 'Basic',
    identifier: [{ system: CHECKPOINT_ID_SYSTEM, value }],
    code: { coding: [{ system: SYNC_CODE_SYSTEM, code: 'checkpoint' }] },
    extension,
  };
  await upsertByIdentifier(store, basic, { system: CHECKPOINT_ID_SYSTEM, value });
}

export type PushStatus = 'pending' | 'sent' | 'failed';

export interface PushRecord {
  /** `DiagnosticReport/<store id>` */
  readonly result: string;
  readonly ehrName: string;
  readonly status: PushStatus;
  readonly attempts: number;
  readonly lastError?: string;
  /** Where the EHR stored it, e.g. `DiagnosticReport/<ehr id>`. */
  readonly ehrReference?: string;
  readonly nextAttemptAt?: string;
  readonly updatedAt: string;
}

export async function readPushRecord(store: MedplumClient, ehrName: string, result: string): Promise<PushRecord | undefined> {
  const basic = await findBasic(store, PUSH_RECORD_ID_SYSTEM, `${ehrName}:${result}`);
  return basic && toPushRecord(basic);
}

export async function writePushRecord(store: MedplumClient, record: PushRecord): Promise<void> {
  const value = `${record.ehrName}:${record.result}`;
  const extension: Extension[] = [
    { url: ext('result'), valueString: record.result },
    { url: ext('ehr'), valueString: record.ehrName },
    { url: ext('attempts'), valueInteger: record.attempts },
    { url: ext('updated-at'), valueInstant: record.updatedAt },
  ];
  if (record.lastError) {
    extension.push({ url: ext('last-error'), valueString: record.lastError.slice(0, 1000) });
  }
  if (record.ehrReference) {
    extension.push({ url: ext('ehr-reference'), valueString: record.ehrReference });
  }
  if (record.nextAttemptAt) {
    extension.push({ url: ext('next-attempt-at'), valueInstant: record.nextAttemptAt });
  }
  const basic: Basic = {
    resourceType: 'Basic',
    identifier: [{ system: PUSH_RECORD_ID_SYSTEM, value }],
    // The status is the code, so "every failed push" is one token search.
    code: { coding: [{ system: SYNC_CODE_SYSTEM, code: `push-${record.status}` }] },
    extension,
  };
  await upsertByIdentifier(store, basic, { system: PUSH_RECORD_ID_SYSTEM, value });
}

/** Push records in one status (for retries and `sync status`). */
export async function listPushRecords(store: MedplumClient, status: PushStatus, ehrName?: string): Promise<PushRecord[]> {
  const found = await store.searchResources('Basic', `code=${encodeURIComponent(`${SYNC_CODE_SYSTEM}|push-${status}`)}&_count=1000`, { cache: 'no-cache' });
  return found.map(toPushRecord).filter((r) => !ehrName || r.ehrName === ehrName);
}

function toPushRecord(basic: Basic): PushRecord {
  return {
    result: extValue(basic, 'result')?.valueString ?? '',
    ehrName: extValue(basic, 'ehr')?.valueString ?? '',
    status: (basic.code.coding?.[0]?.code ?? 'push-pending').replace(/^push-/, '') as PushStatus,
    attempts: extValue(basic, 'attempts')?.valueInteger ?? 0,
    lastError: extValue(basic, 'last-error')?.valueString,
    ehrReference: extValue(basic, 'ehr-reference')?.valueString,
    nextAttemptAt: extValue(basic, 'next-attempt-at')?.valueInstant,
    updatedAt: extValue(basic, 'updated-at')?.valueInstant ?? '',
  };
}

async function findBasic(store: MedplumClient, system: string, value: string): Promise<Basic | undefined> {
  const found = await store.searchResources('Basic', `identifier=${encodeURIComponent(`${system}|${value}`)}`, { cache: 'no-cache' });
  return found[0];
}

function extValue(basic: Basic | undefined, name: string): Extension | undefined {
  return basic?.extension?.find((e) => e.url === ext(name));
}
