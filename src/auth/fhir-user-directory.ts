/**
 * The development EHR's people: Practitioners and Patients from the FHIR store, for the sign-in
 * page of a standalone launch and the `/ehr` launcher. Reads with the unscoped repository because
 * it runs before anyone is signed in; it shows names only, and only when the development EHR is on.
 */
import { formatHumanName, parseSearchRequest } from '@medplum/core';
import type { FhirRepository } from '@medplum/fhir-router';
import type { HumanName, Patient, Practitioner, Resource } from '@medplum/fhirtypes';
import type { DirectoryEntry, UserDirectory } from './authorize-endpoint';

/** The directory as the userinfo endpoint and the token-exchange grant use it. */
export interface PractitionerLookup {
  /** The email of a user (`Practitioner/<id>`, `Patient/<id>`), when the store has one. */
  emailOf(reference: string): Promise<string | undefined>;
  /** Ids of Practitioners matching a search (`email=...`, `identifier=...`), at most two. */
  findPractitionerIds(query: string): Promise<string[]>;
}

const LIMIT = 50;

export function fhirUserDirectory(repo: FhirRepository): UserDirectory & PractitionerLookup {
  return {
    async emailOf(reference) {
      const [resourceType, id] = reference.split('/');
      const user = await repo.readResource<Resource & Pick<Practitioner, 'telecom'>>(resourceType as 'Practitioner', id).catch(() => undefined);
      return user?.telecom?.find((t) => t.system === 'email' && t.value)?.value;
    },
    async findPractitionerIds(query) {
      const found = await repo.searchResources<Practitioner>(parseSearchRequest(`Practitioner?${query}&_count=2`));
      return found.map((p) => p.id as string);
    },
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
