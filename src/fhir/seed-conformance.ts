import type { FhirRepository } from '@medplum/fhir-router';
import type { Resource } from '@medplum/fhirtypes';
import type { ConformanceResources } from './validation';

/**
 * Stores the conformance resources of `fhir-profiles/` (Questionnaires, profiles, ValueSets,
 * CodeSystems, ConceptMaps) so clients can read them over FHIR. Each is a PUT to a stable id, and
 * an unchanged resource creates no version, so restarting the server changes nothing.
 * @returns the number of resources stored or updated.
 */
export async function seedConformanceResources(repo: FhirRepository, conformance: ConformanceResources): Promise<number> {
  const all: Resource[] = [...conformance.structureDefinitions, ...conformance.valueSets, ...conformance.codeSystems, ...conformance.others];
  let changed = 0;
  for (const resource of all) {
    const id = resource.id ?? stableId(resource);
    const before = await repo.readResource(resource.resourceType, id).catch(() => undefined);
    const after = await repo.updateResource({ ...resource, id });
    if (before?.meta?.versionId !== after.meta?.versionId) {
      changed++;
    }
  }
  return changed;
}

function stableId(resource: Resource): string {
  const url = (resource as { url?: string }).url ?? '';
  const id = url.split('/').pop()?.replace(/[^A-Za-z0-9\-.]/g, '-').slice(0, 64);
  if (!id) {
    throw new Error(`${resource.resourceType} in fhir-profiles has neither id nor url`);
  }
  return id;
}
