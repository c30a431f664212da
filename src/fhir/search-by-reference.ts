import type { SearchRequest, WithId } from '@medplum/core';
import { Operator } from '@medplum/core';
import type { FhirRepository } from '@medplum/fhir-router';
import type { Resource } from '@medplum/fhirtypes';

/**
 * `FhirRepository.searchByReference` (GraphQL's batched reverse lookups) as one search per
 * reference through `repo`, so whatever `repo` checks applies to each.
 */
export async function searchByReferenceVia<T extends Resource>(
  repo: FhirRepository,
  searchRequest: SearchRequest<T>,
  referenceField: string,
  references: string[]
): Promise<Record<string, WithId<T>[]>> {
  const results: Record<string, WithId<T>[]> = {};
  for (const reference of references) {
    const filters = [...(searchRequest.filters ?? []), { code: referenceField, operator: Operator.EQUALS, value: reference }];
    results[reference] = await repo.searchResources({ ...searchRequest, filters });
  }
  return results;
}
