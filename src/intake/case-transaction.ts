import { normalizeErrorString, OperationOutcomeError } from '@medplum/core';
import type { Bundle } from '@medplum/fhirtypes';
import type { Caller } from './case-store';

/**
 * What the case store accepts in one transaction. Medplum's BatchProcessor (fhir-router 5.2,
 * the same code a real Medplum server runs) refuses a transaction that holds a conditional create
 * once it has more than 8 entries ("Transaction requires strict isolation but has too many
 * entries": on Postgres it needs SERIALIZABLE). The embedded server lifts that limit
 * (src/fhir/transaction-conditional-creates.ts). Learned from the first refusal, per store.
 */
export interface StoreCapabilities {
  conditionalCreatesInLargeTransactions: 'unknown' | 'yes' | 'no';
}

const STRICT_ISOLATION = /strict isolation/i;

/**
 * Sends the case transaction. With conditional creates when the store takes them (a concurrent
 * duplicate then matches instead of being created twice); otherwise the same Bundle as plain
 * creates: still atomic, and idempotent for retries through the pre-check done before it
 * (submit-case.ts), but two identical submissions racing each other can both be created.
 */
export async function executeCaseTransaction(caller: Caller, bundle: Bundle, capabilities: StoreCapabilities): Promise<Bundle> {
  if (capabilities.conditionalCreatesInLargeTransactions !== 'no') {
    try {
      const result = await caller.medplum.executeBatch(bundle);
      capabilities.conditionalCreatesInLargeTransactions = 'yes';
      return result;
    } catch (err) {
      if (!(err instanceof OperationOutcomeError) || !STRICT_ISOLATION.test(normalizeErrorString(err.outcome))) {
        throw err;
      }
      capabilities.conditionalCreatesInLargeTransactions = 'no';
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
