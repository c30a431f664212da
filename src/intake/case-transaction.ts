import { normalizeErrorString, OperationOutcomeError } from '@medplum/core';
import type { Bundle } from '@medplum/fhirtypes';
import type { Caller } from './case-store';

/**
 * What the case store accepts in one transaction. Medplum's BatchProcessor (fhir-router 5.2,
 * the same code a real Medplum server runs) refuses a transaction that holds a conditional create
 * once it has more than 8 entries ("Transaction requires strict isolation but has too many
 * entries": on Postgres it needs SERIALIZABLE). The embedded server lifts that limit
 * (src/fhir/transaction-conditional-creates.ts). Learned from the refusals, per store: the
 * smallest transaction refused so far; smaller ones still go with their conditions (a case of up
 * to five photos is six to eight entries, so on Medplum most cases keep them).
 */
export interface StoreCapabilities {
  /** Entries of the smallest transaction with conditional creates the store refused (undefined: none refused yet). */
  conditionalCreatesRefusedAt?: number;
}

const STRICT_ISOLATION = /strict isolation/i;

/**
 * Sends the case transaction. With conditional creates when the store takes them (a concurrent
 * duplicate then matches instead of being created twice); otherwise the same Bundle as plain
 * creates: still atomic, and idempotent for retries through the pre-check done before it
 * (submit-case.ts), but two identical submissions racing each other can both be created.
 */
export async function executeCaseTransaction(caller: Caller, bundle: Bundle, capabilities: StoreCapabilities): Promise<Bundle> {
  const entries = bundle.entry?.length ?? 0;
  if (capabilities.conditionalCreatesRefusedAt === undefined || entries < capabilities.conditionalCreatesRefusedAt) {
    try {
      return await caller.medplum.executeBatch(bundle);
    } catch (err) {
      if (!(err instanceof OperationOutcomeError) || !STRICT_ISOLATION.test(normalizeErrorString(err.outcome))) {
        throw err;
      }
      capabilities.conditionalCreatesRefusedAt = Math.min(entries, capabilities.conditionalCreatesRefusedAt ?? entries);
    }
  }
  return caller.medplum.executeBatch(withoutConditions(bundle));
}

export function withoutConditions(bundle: Bundle): Bundle {
  return {
    ...bundle,
    entry: (bundle.entry ?? []).map((entry) => {
      if (!entry.request?.ifNoneExist) return entry;
      const { ifNoneExist: _dropped, ...request } = entry.request;
      return { ...entry, request };
    }),
  };
}
