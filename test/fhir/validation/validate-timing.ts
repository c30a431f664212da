/**
 * Measures ResourceValidator.validate() per resource (not a test: timings vary by machine).
 * Run: PATH=$PWD/node_modules/.bin:$PATH node --import tsx test/fhir/validation/validate-timing.ts
 */
import { validateResource } from '@medplum/core';
import type { Patient, Resource, Task } from '@medplum/fhirtypes';
import { join } from 'node:path';
import { createResourceValidator } from '../../../src/fhir/validation';
import { profiledPatient } from './fixtures/resources';

const started = performance.now();
const validator = createResourceValidator({ profilesDir: join(__dirname, 'fixtures', 'profiles') });
console.log(`createResourceValidator: ${(performance.now() - started).toFixed(0)} ms`);

const patient: Patient = {
  resourceType: 'Patient',
  meta: { versionId: '1', lastUpdated: '2025-01-15T10:00:00.000Z' },
  identifier: [{ system: 'urn:oid:2.16.840.1.113883.3.999.1', value: '12345' }],
  active: true,
  name: [{ use: 'official', family: 'Lima', given: ['Ana', 'Maria'] }],
  telecom: [{ system: 'phone', value: '+1 555 0100', use: 'mobile' }],
  gender: 'female',
  birthDate: '1984-03-02',
  address: [{ use: 'home', line: ['1 Main St'], city: 'Springfield', postalCode: '12345', country: 'US' }],
};
const task: Task = {
  resourceType: 'Task',
  identifier: [{ system: 'https://dermbridge.example.org/fhir/case', value: 'case-1' }],
  status: 'requested',
  businessStatus: { coding: [{ system: 'https://dermbridge.example.org/fhir/CodeSystem/econsult-business-status', code: 'awaiting-review' }] },
  intent: 'order',
  priority: 'urgent',
  focus: { reference: 'ServiceRequest/1' },
  for: { reference: 'Patient/1' },
  authoredOn: '2025-01-15T10:00:00Z',
  owner: { reference: 'Practitioner/1' },
  restriction: { period: { end: '2025-01-17T10:00:00Z' } },
};

function measure(label: string, resource: Resource, iterations = 20_000, validate = (r: Resource): unknown => validator.validate(r)): void {
  for (let i = 0; i < 2_000; i++) {
    validate(resource);
  }
  const start = performance.now();
  for (let i = 0; i < iterations; i++) {
    validate(resource);
  }
  const micros = ((performance.now() - start) * 1000) / iterations;
  console.log(`${label.padEnd(42)} ${micros.toFixed(1)} µs/validate  (${Math.round(1e6 / micros)}/s on one core)`);
}

measure('Patient: Medplum validateResource only', patient, 20_000, (r) => validateResource(r));
measure('Patient (base R4)', patient);
measure('Task (base R4)', task);
measure('Patient with meta.profile (test-patient)', profiledPatient(), 10_000);

