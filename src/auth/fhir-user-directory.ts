/**
 * The development EHR's people: Practitioners and Patients from the FHIR store, for the sign-in
 * page of a standalone launch and the `/ehr` launcher. Reads with the unscoped repository because
 * it runs before anyone is signed in; it shows names only, and only when the development EHR is on.
 */
import { formatHumanName, parseSearchRequest } from '@medplum/core';
import type { FhirRepository } from '@medplum/fhir-router';
import type { HumanName, Patient, Practitioner } from '@medplum/fhirtypes';
import type { DirectoryEntry, UserDirectory } from './authorize-endpoint';

const LIMIT = 50;

export function fhirUserDirectory(repo: FhirRepository): UserDirectory {
  return {
    async practitioners() {
      const found = await repo.searchResources<Practitioner>(parseSearchRequest(`Practitioner?_count=${LIMIT}&_sort=_lastUpdated`));
      return found.map((p): DirectoryEntry => ({ id: `Practitioner/${p.id}`, display: describe(p.name, p.qualification?.[0]?.code?.text) }));
    },
    async patients() {
      const found = await repo.searchResources<Patient>(parseSearchRequest(`Patient?_count=${LIMIT}&_sort=_lastUpdated`));
      return found.map((p): DirectoryEntry => ({ id: p.id, display: describe(p.name, p.birthDate && `born ${p.birthDate}`) }));
    },
  };
}

function describe(names: HumanName[] | undefined, detail: string | undefined): string {
  const name = names?.[0] ? formatHumanName(names[0]) : 'Unnamed';
  return detail ? `${name} (${detail})` : name;
}
