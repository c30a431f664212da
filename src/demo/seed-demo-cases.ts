import type { MedplumClient } from '@medplum/core';
import type { Bundle, BundleEntry, Patient, ServiceRequest, Task } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_IDENTIFIER_SYSTEM } from './seed-demo-data';

/** The profiles' sample e-consult (answers, three small photos), re-used for the demo queue. */
const SAMPLE_CASE = join(__dirname, '..', '..', 'fhir-profiles', 'examples', 'sample-case.transaction.json');
const CASE_ID_SYSTEM = 'https://dermbridge.example.org/fhir/sid/case-id';

/** Whose case, and how long ago it arrived: the queue shows a spread of ages and, once triaged, of priorities. */
const DEMO_CASES = [
  { patient: 'pat-1', caseNumber: 'DEMO-0001', hoursAgo: 30 },
  { patient: 'pat-2', caseNumber: 'DEMO-0002', hoursAgo: 6 },
  { patient: 'pat-3', caseNumber: 'DEMO-0003', hoursAgo: 1 },
] as const;

/**
 * Puts a few e-consults in the review queue, so the review app launched from the development EHR
 * has something to show: the sample case of fhir-profiles/examples for three demo patients, sent
 * as a transaction through the server's own FHIR API (validation, audit, and the bots triage them
 * after the commit, as they would a real submission). A case already there (by its case number)
 * is not sent again, so restarting the server never duplicates them.
 * @returns how many cases were created.
 */
export async function seedDemoCases(medplum: MedplumClient, now = new Date()): Promise<number> {
  let created = 0;
  for (const demo of DEMO_CASES) {
    const existing = await medplum.searchResources('ServiceRequest', { identifier: `${CASE_ID_SYSTEM}|${demo.caseNumber}`, _count: '1' });
    if (existing.length > 0) {
      continue;
    }
    await medplum.executeBatch(demoCase(demo, new Date(now.getTime() - demo.hoursAgo * 3600_000)));
    created++;
  }
  return created;
}

function demoCase(demo: (typeof DEMO_CASES)[number], at: Date): Bundle {
  // Fresh urn:uuids per case, as every real submission has its own (the sample's are fixed).
  const fresh = new Map<string, string>();
  const text = readFileSync(SAMPLE_CASE, 'utf8').replace(/urn:uuid:[0-9a-f-]{36}/g, (urn) => {
    if (!fresh.has(urn)) {
      fresh.set(urn, `urn:uuid:${randomUUID()}`);
    }
    return fresh.get(urn) as string;
  });
  const bundle = JSON.parse(text) as Bundle;
  const when = at.toISOString();
  bundle.entry = (bundle.entry ?? []).map((entry): BundleEntry => {
    const resource = entry.resource;
    switch (resource?.resourceType) {
      case 'Patient': {
        // The demo patient seedDemoData made: matched by its identifier, never a second record.
        const identifier = { system: DEMO_IDENTIFIER_SYSTEM, value: demo.patient };
        const patient: Patient = { ...resource, identifier: [identifier] };
        return { ...entry, resource: patient, request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${identifier.system}|${identifier.value}` } };
      }
      case 'ServiceRequest': {
        const sr: ServiceRequest = { ...resource, authoredOn: when, identifier: [{ system: CASE_ID_SYSTEM, value: demo.caseNumber }] };
        return { ...entry, resource: sr };
      }
      case 'Task': {
        // Due 48 h after arrival (routine until triage has looked at it): the oldest demo case is overdue.
        const due = new Date(at.getTime() + 48 * 3600_000).toISOString();
        const task: Task = { ...resource, authoredOn: when, priority: 'routine', restriction: { period: { end: due } }, identifier: [{ system: CASE_ID_SYSTEM, value: demo.caseNumber }] };
        return { ...entry, resource: task };
      }
      case 'QuestionnaireResponse':
        return { ...entry, resource: { ...resource, authored: when, identifier: { system: CASE_ID_SYSTEM, value: `${demo.caseNumber}-intake` } } };
      default:
        return entry;
    }
  });
  return bundle;
}
