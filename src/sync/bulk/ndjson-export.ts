/**
 * NDJSON export of the store, one resource a line, type by type, page by page: memory holds one
 * page, and the writer's backpressure paces the reads.
 */
import type { MedplumClient } from '@medplum/core';
import type { Writable } from 'node:stream';
import { once } from 'node:events';

export const DEFAULT_EXPORT_TYPES = [
  'Patient',
  'Practitioner',
  'Condition',
  'AllergyIntolerance',
  'MedicationStatement',
  'MedicationRequest',
  'ServiceRequest',
  'Task',
  'QuestionnaireResponse',
  'Media',
  'RiskAssessment',
  'DiagnosticReport',
  'Communication',
  'CarePlan',
] as const;

export async function exportNdjson(
  store: MedplumClient,
  out: Writable,
  options: { types?: readonly string[]; pageSize?: number; onProgress?: (count: number) => void } = {}
): Promise<number> {
  let count = 0;
  for (const type of options.types ?? DEFAULT_EXPORT_TYPES) {
    for await (const page of store.searchResourcePages(type as 'Patient', `_count=${options.pageSize ?? 500}&_sort=_id`)) {
      for (const resource of page) {
        if (!out.write(JSON.stringify(resource) + '\n')) {
          await once(out, 'drain');
        }
        count++;
      }
      options.onProgress?.(count);
    }
  }
  return count;
}
