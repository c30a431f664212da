/**
 * The same person at the EHR and at dermbridge: matched on a shared business identifier (NPI for a
 * clinician, the MRN for a patient) in the systems configured for that EHR, never on resource ids
 * (two servers' ids coincide only by chance). Exactly one dermbridge resource must match.
 */
import { parseSearchRequest } from '@medplum/core';
import type { FhirRepository } from '@medplum/fhir-router';
import type { Identifier, Patient, Practitioner } from '@medplum/fhirtypes';

export type IdentityMatch = { readonly ok: true; readonly id: string } | { readonly ok: false; readonly reason: string };

export async function findByIdentifier(
  repo: FhirRepository,
  resourceType: 'Practitioner' | 'Patient',
  identifiers: readonly Identifier[] | undefined,
  systems: readonly string[],
): Promise<IdentityMatch> {
  const usable = (identifiers ?? []).filter((i) => i.system !== undefined && i.value !== undefined && systems.includes(i.system));
  if (usable.length === 0) {
    return { ok: false, reason: `the EHR's ${resourceType} has no identifier in ${systems.join(', ')}` };
  }
  const ids = new Set<string>();
  for (const { system, value } of usable) {
    const query = `${resourceType}?identifier=${encodeURIComponent(`${system}|${value}`)}&_count=2`;
    const found = await repo.searchResources<Practitioner | Patient>(parseSearchRequest(query));
    found.forEach((r) => ids.add(r.id as string));
  }
  const described = usable.map((i) => `${i.system}|${i.value}`).join(', ');
  if (ids.size === 0) {
    return { ok: false, reason: `no dermbridge ${resourceType} has identifier ${described}` };
  }
  if (ids.size > 1) {
    return { ok: false, reason: `several dermbridge ${resourceType} resources match ${described}` };
  }
  return { ok: true, id: [...ids][0] };
}
