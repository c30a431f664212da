import { parseSearchRequest } from '@medplum/core';
import type { Organization, Patient, Practitioner, Resource } from '@medplum/fhirtypes';
import type { FhirRepository } from '@medplum/fhir-router';

export const DEMO_IDENTIFIER_SYSTEM = 'https://dermbridge.example.org/fhir/identifier/demo';

const DEMO_RESOURCES: Resource[] = [
  {
    resourceType: 'Organization',
    identifier: [{ system: DEMO_IDENTIFIER_SYSTEM, value: 'org-derm-clinic' }],
    name: 'Riverside Dermatology (demo)',
  } satisfies Organization,
  {
    resourceType: 'Practitioner',
    identifier: [{ system: DEMO_IDENTIFIER_SYSTEM, value: 'prac-derm-1' }],
    name: [{ prefix: ['Dr'], given: ['Imani'], family: 'Okafor' }],
    qualification: [{ code: { text: 'Dermatologist' } }],
  } satisfies Practitioner,
  {
    resourceType: 'Practitioner',
    identifier: [{ system: DEMO_IDENTIFIER_SYSTEM, value: 'prac-pcp-1' }],
    name: [{ prefix: ['Dr'], given: ['Tomas'], family: 'Lindqvist' }],
    qualification: [{ code: { text: 'General practitioner' } }],
  } satisfies Practitioner,
  ...[
    ['pat-1', 'Maria', 'Garcia', 'female', '1968-04-12'],
    ['pat-2', 'James', 'Whitfield', 'male', '1954-11-02'],
    ['pat-3', 'Aiko', 'Tanaka', 'female', '1991-07-23'],
    ['pat-4', 'Noah', 'Brennan', 'male', '2012-02-14'],
  ].map(
    ([mrn, given, family, gender, birthDate]) =>
      ({
        resourceType: 'Patient',
        identifier: [{ system: DEMO_IDENTIFIER_SYSTEM, value: mrn }],
        name: [{ given: [given], family }],
        gender: gender as Patient['gender'],
        birthDate,
      }) satisfies Patient
  ),
];

/**
 * Loads the demo clinic, clinicians and patients. Each is a conditional create on its demo
 * identifier, so starting the server again never duplicates them.
 * @returns how many resources were created (0 on a second run).
 */
export async function seedDemoData(repo: FhirRepository, progress: (done: number, total: number) => void = () => undefined): Promise<number> {
  let created = 0;
  for (const [i, resource] of DEMO_RESOURCES.entries()) {
    const identifier = (resource as Patient).identifier?.[0];
    const search = parseSearchRequest(`${resource.resourceType}?identifier=${identifier?.system}|${identifier?.value}`);
    const result = await repo.conditionalCreate(resource, search);
    if (result.outcome.id === 'created') {
      created++;
    }
    progress(i + 1, DEMO_RESOURCES.length);
  }
  return created;
}
