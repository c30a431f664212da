/**
 * Demo e-consult cases for the development EHR: the sample case of `fhir-profiles/examples`
 * (photos, intake answers, triage, ServiceRequest, Task) filed once for each demo patient, with
 * different priorities and due dates so the queue has something to sort. Written through the FHIR
 * API as one transaction per case, exactly as an intake would arrive.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSearchRequest } from '@medplum/core';
import type { FhirRepository } from '@medplum/fhir-router';
import type { Bundle, BundleEntry, Patient, QuestionnaireResponseItem, QuestionnaireResponseItemAnswer, Resource, RiskAssessment, Task } from '@medplum/fhirtypes';
import type { Auth } from '../../src/auth';
import { DEMO_IDENTIFIER_SYSTEM } from '../../src/demo/seed-demo-data';

const PATIENT_URN = 'urn:uuid:6f1c2a40-0d7b-4c55-9a3e-000000000001';
const SR_URN = 'urn:uuid:6f1c2a40-0d7b-4c55-9a3e-000000000003';
const QR_URN = 'urn:uuid:6f1c2a40-0d7b-4c55-9a3e-000000000002';
const HOUR = 3600_000;

interface DemoCase {
  readonly mrn: string;
  readonly priority: 'urgent' | 'routine';
  /** Hours since submission, and until due (negative: overdue). */
  readonly ageHours: number;
  readonly dueInHours: number;
  readonly triage: 'P1' | 'P2';
  readonly reason: string;
}

export const DEMO_CASES: readonly DemoCase[] = [
  { mrn: 'pat-1', priority: 'urgent', ageHours: 20, dueInHours: 28, triage: 'P1', reason: 'Changing pigmented lesion, upper back' },
  { mrn: 'pat-2', priority: 'routine', ageHours: 24 * 9, dueInHours: -30, triage: 'P2', reason: 'Scaly patch on the scalp, 3 months' },
  { mrn: 'pat-3', priority: 'routine', ageHours: 30, dueInHours: 24 * 4, triage: 'P2', reason: 'Itchy rash in the elbow creases' },
];

/** A function that POSTs a transaction Bundle to the FHIR API and returns the response Bundle. */
export type PostTransaction = (bundle: Bundle) => Promise<Bundle>;

/**
 * Files the demo cases unless e-consult Tasks already exist (so a restart never duplicates them).
 * @returns how many cases were created.
 */
export async function seedDemoCases(repo: FhirRepository, postTransaction: PostTransaction, profilesDir: string, now = Date.now()): Promise<number> {
  const existing = await repo.searchResources<Task>(parseSearchRequest('Task?code=https://dermbridge.example.org/fhir/CodeSystem/derm-case-type|econsult-review&_count=1'));
  if (existing.length > 0) {
    return 0;
  }
  const sample = JSON.parse(readFileSync(join(profilesDir, 'examples', 'sample-case.transaction.json'), 'utf8')) as Bundle;
  const triage = JSON.parse(readFileSync(join(profilesDir, 'examples', 'derm-triage-riskassessment.example.json'), 'utf8')) as RiskAssessment;
  let created = 0;
  for (const demo of DEMO_CASES) {
    const [patient] = await repo.searchResources<Patient>(parseSearchRequest(`Patient?identifier=${DEMO_IDENTIFIER_SYSTEM}|${demo.mrn}`));
    if (!patient) {
      continue;
    }
    await postTransaction(caseBundle(sample, triage, demo, patient, now));
    created++;
  }
  return created;
}

function caseBundle(sample: Bundle, triageExample: RiskAssessment, demo: DemoCase, patient: Patient, now: number): Bundle {
  const patientRef = `Patient/${patient.id}`;
  const authored = new Date(now - demo.ageHours * HOUR).toISOString();
  const due = new Date(now + demo.dueInHours * HOUR).toISOString();
  // Every reference to the sample's patient now points at the demo patient.
  const text = JSON.stringify(sample.entry?.filter((e) => e.resource?.resourceType !== 'Patient')).replaceAll(PATIENT_URN, patientRef);
  const entries = JSON.parse(text) as BundleEntry[];
  for (const { resource } of entries) {
    patchResource(resource as Resource, demo, authored, due);
    if (resource?.resourceType === 'Binary') {
      // As a real intake files photos (src/intake/photo-media.ts): the Binary is in the patient's
      // compartment, so a token bound to that patient can read it.
      resource.securityContext = { reference: patientRef };
    }
    if (resource?.resourceType === 'QuestionnaireResponse' && patient.birthDate) {
      setAnswer(resource.item ?? [], 'patient-birth-date', { valueDate: patient.birthDate });
    }
  }
  const { id: _id, ...triage } = triageExample;
  const riskAssessment: RiskAssessment = {
    ...triage,
    subject: { reference: patientRef },
    basedOn: { reference: SR_URN },
    basis: [{ reference: QR_URN }],
    occurrenceDateTime: authored,
    prediction: demo.triage === 'P1' ? triage.prediction : [
      {
        outcome: { coding: [{ system: 'https://dermbridge.example.org/fhir/CodeSystem/derm-triage-priority', code: 'P2', display: 'P2 - routine' }] },
        rationale: 'No P0 or P1 rule fired (7-point checklist score 1). Routine e-consult.',
      },
    ],
  };
  entries.push({ fullUrl: 'urn:uuid:6f1c2a40-0d7b-4c55-9a3e-000000000005', resource: riskAssessment, request: { method: 'POST', url: 'RiskAssessment' } });
  return { resourceType: 'Bundle', type: 'transaction', entry: entries };
}

/** Sets the first answer of every item with this linkId (the intake repeats the patient's birth date). */
function setAnswer(items: QuestionnaireResponseItem[], linkId: string, answer: QuestionnaireResponseItemAnswer): void {
  for (const item of items) {
    if (item.linkId === linkId) {
      item.answer = [answer];
    }
    setAnswer(item.item ?? [], linkId, answer);
    for (const a of item.answer ?? []) {
      setAnswer(a.item ?? [], linkId, answer);
    }
  }
}

function patchResource(resource: Resource, demo: DemoCase, authored: string, due: string): void {
  switch (resource.resourceType) {
    case 'ServiceRequest':
      resource.priority = demo.priority;
      resource.authoredOn = authored;
      resource.identifier = [{ system: 'https://dermbridge.example.org/fhir/sid/case-id', value: `DB-DEMO-${demo.mrn}` }];
      resource.reasonCode = [{ text: demo.reason }];
      break;
    case 'Task':
      resource.priority = demo.priority;
      resource.authoredOn = authored;
      resource.restriction = { period: { end: due } };
      resource.description = demo.reason;
      break;
    case 'QuestionnaireResponse':
      resource.authored = authored;
      break;
    default:
      break;
  }
}

/**
 * POSTs to this server's own FHIR API with a short-lived system token, so demo cases take the
 * same path (validation, lifecycle, audit) as a real intake.
 */
export function postTransactionOverHttp(auth: Auth): PostTransaction {
  return async (bundle) => {
    const { accessToken } = await auth.issueAccessToken({ clientId: 'dermbridge-dev-ehr', scopes: ['system/*.cruds'], lifetimeSeconds: 60 });
    const res = await fetch(auth.fhirBaseUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
      body: JSON.stringify(bundle),
    });
    if (!res.ok) {
      throw new Error(`Demo case transaction failed: ${res.status} ${await res.text()}`);
    }
    return (await res.json()) as Bundle;
  };
}
