import type { BotEvent, MedplumClient } from '@medplum/core';
import type { Communication, Patient, QuestionnaireResponse, Reference, Resource, RiskAssessment, ServiceRequest, Task } from '@medplum/fhirtypes';
import { PROFILE_URLS } from '../src/cases/canonical-urls';
import type { RequestPriority } from '../src/triage/case-priority';
import { SLA_ESCALATED_TAG, dueDate, higherPriority } from '../src/triage/case-priority';
import type { AnswerValue } from '../src/triage/conditions';
import type { TriageResult } from '../src/triage/engine';
import { answersFromResponse, rationale, triage } from '../src/triage/engine';
import { PRIORITY_DISPLAY, QUEUE_ADVICE, REQUEST_PRIORITY, RULE_SET_VERSION } from '../src/triage/rules';
import type { CaseContext } from './lib/case-context';
import { CASE_TYPE_SYSTEM, casesFor, loadCase } from './lib/case-context';
import { refOf, updateIfChanged, upsertByIdentifier } from './lib/fhir-writes';

/**
 * Triage bot. Triggered by a created/updated intake or e-consult QuestionnaireResponse, a case
 * ServiceRequest or its photos (Media). Applies src/triage's rules and writes the result: priority
 * on the ServiceRequest and Task, the Task due date, one RiskAssessment per case (identifier =
 * the case), and for P0 a patient-facing Communication with emergency advice. Every write is
 * compare-before-update, so a second run on the same input changes nothing.
 */
export async function handler(medplum: MedplumClient, event: BotEvent<Resource>): Promise<TriageSummary[]> {
  const input = event.input;
  const cases = await casesFor(medplum, input);
  if (cases.length === 0 && input.resourceType === 'QuestionnaireResponse' && input.status !== 'in-progress') {
    // A response not (yet) part of a case: a P0 must still get its advice at once.
    return [await triageResponseOnly(medplum, input as QuestionnaireResponse & { id: string })];
  }
  const summaries: TriageSummary[] = [];
  for (const sr of cases) {
    summaries.push(await triageCase(medplum, await loadCase(medplum, sr)));
  }
  return summaries;
}

export interface TriageSummary {
  readonly caseRef: string;
  readonly priority: string;
  readonly fired: string[];
}

const TRIAGE_ID_SYSTEM = 'https://dermbridge.example.org/fhir/sid/triage';
const ADVICE_ID_SYSTEM = 'https://dermbridge.example.org/fhir/sid/triage-advice';
const PRIORITY_SYSTEM = 'https://dermbridge.example.org/fhir/CodeSystem/derm-triage-priority';

async function triageCase(medplum: MedplumClient, ctx: CaseContext): Promise<TriageSummary> {
  const sr = ctx.serviceRequest;
  const caseRef = refOf(sr);
  const answered = ctx.responses.filter((r) => r.status !== 'in-progress' && r.status !== 'entered-in-error');
  if (answered.length === 0) {
    return { caseRef, priority: 'pending', fired: [] };
  }
  const result = triageResponses(answered);
  const basis: Reference[] = [...answered.map((r) => ({ reference: refOf(r) })), ...ctx.media.map((m) => ({ reference: refOf(m) }))];
  const { resource: assessment } = await upsertByIdentifier<RiskAssessment>(
    medplum,
    { system: TRIAGE_ID_SYSTEM, value: caseRef },
    (existing) => riskAssessment(result, sr.subject as Reference<Patient>, basis, { reference: caseRef }, caseRef, existing),
    ['occurrenceDateTime']
  );
  const requestPriority = REQUEST_PRIORITY[result.priority];
  const supportingInfo = sr.supportingInfo ?? [];
  const nextSr: ServiceRequest & { id: string } = {
    ...sr,
    priority: requestPriority,
    supportingInfo: supportingInfo.some((r) => r.reference === refOf(assessment)) ? supportingInfo : [...supportingInfo, { reference: refOf(assessment) }],
  };
  await updateIfChanged(medplum, sr, nextSr);
  if (ctx.task) {
    await prioritizeTask(medplum, ctx.task, requestPriority, dueDate(sr.authoredOn ?? ctx.task.authoredOn ?? new Date().toISOString(), result.priority));
  }
  if (result.priority === 'P0') {
    await sendEmergencyAdvice(medplum, result, sr.subject as Reference<Patient>, caseRef, { reference: caseRef });
  }
  return { caseRef, priority: result.priority, fired: result.fired.map((r) => r.id) };
}

async function triageResponseOnly(medplum: MedplumClient, response: QuestionnaireResponse & { id: string }): Promise<TriageSummary> {
  const key = refOf(response);
  const result = triageResponses([response]);
  const subject = response.subject as Reference<Patient>;
  await upsertByIdentifier<RiskAssessment>(
    medplum,
    { system: TRIAGE_ID_SYSTEM, value: key },
    (existing) => riskAssessment(result, subject, [{ reference: key }], undefined, key, existing),
    ['occurrenceDateTime']
  );
  if (result.priority === 'P0') {
    await sendEmergencyAdvice(medplum, result, subject, key, undefined);
  }
  return { caseRef: key, priority: result.priority, fired: result.fired.map((r) => r.id) };
}

/** The answers of every response of the case (intake and e-consult), evaluated as of the latest. */
function triageResponses(responses: QuestionnaireResponse[]): TriageResult {
  const answers = new Map<string, AnswerValue[]>();
  let asOf = 0;
  for (const r of responses) {
    for (const [linkId, values] of answersFromResponse(r)) {
      answers.set(linkId, [...(answers.get(linkId) ?? []), ...values]);
    }
    asOf = Math.max(asOf, new Date(r.authored ?? r.meta?.lastUpdated ?? 0).getTime());
  }
  return triage(answers, new Date(asOf));
}

function riskAssessment(
  result: TriageResult,
  subject: Reference<Patient>,
  basis: Reference[],
  basedOn: Reference | undefined,
  key: string,
  existing: RiskAssessment | undefined
): RiskAssessment {
  const advice = result.priority === 'P0' ? result.fired.filter((r) => r.advice).map((r) => r.advice).join(' ') : QUEUE_ADVICE[result.priority];
  return {
    resourceType: 'RiskAssessment',
    meta: { profile: [PROFILE_URLS.triageRiskAssessment] },
    identifier: [{ system: TRIAGE_ID_SYSTEM, value: key }],
    status: 'final',
    code: { coding: [{ system: CASE_TYPE_SYSTEM, code: 'derm-triage', display: 'Dermatology triage' }] },
    subject,
    ...(basedOn ? { basedOn } : {}),
    occurrenceDateTime: existing?.occurrenceDateTime ?? new Date().toISOString(),
    method: { text: RULE_SET_VERSION },
    basis,
    prediction: [
      {
        outcome: { coding: [{ system: PRIORITY_SYSTEM, code: result.priority, display: PRIORITY_DISPLAY[result.priority] }] },
        rationale: rationale(result),
      },
    ],
    mitigation: advice,
    note: result.notes.map((text) => ({ text })),
  };
}

async function prioritizeTask(medplum: MedplumClient, task: Task & { id: string }, priority: RequestPriority, due: string): Promise<void> {
  if (['completed', 'cancelled', 'rejected', 'entered-in-error'].includes(task.status)) {
    return;
  }
  const escalated = (task.meta?.tag ?? []).some((t) => t.system === SLA_ESCALATED_TAG.system && t.code === SLA_ESCALATED_TAG.code);
  const currentEnd = task.restriction?.period?.end;
  if (currentEnd && Date.parse(currentEnd) === Date.parse(due)) {
    due = currentEnd; // same instant, other spelling: not a change
  }
  const next: Task & { id: string } = {
    ...task,
    priority: escalated ? higherPriority(task.priority as RequestPriority | undefined, priority) : priority,
    restriction: { ...task.restriction, period: { ...task.restriction?.period, end: escalated ? (task.restriction?.period?.end ?? due) : due } },
  };
  await updateIfChanged(medplum, task, next);
}

async function sendEmergencyAdvice(medplum: MedplumClient, result: TriageResult, patient: Reference<Patient>, key: string, about: Reference | undefined): Promise<void> {
  const text = result.fired
    .filter((r) => r.priority === 'P0' && r.advice)
    .map((r) => r.advice)
    .join('\n\n');
  await upsertByIdentifier<Communication>(
    medplum,
    { system: ADVICE_ID_SYSTEM, value: key },
    (existing) => ({
      resourceType: 'Communication',
      identifier: [{ system: ADVICE_ID_SYSTEM, value: key }],
      status: 'completed',
      priority: 'stat',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/communication-category', code: 'alert' }], text: 'Emergency advice' }],
      subject: patient,
      recipient: [patient],
      ...(about ? { about: [about], basedOn: [about] } : {}),
      sent: existing?.sent ?? new Date().toISOString(),
      payload: [{ contentString: `Your answers show signs that need emergency care. Please do not wait for the online review.\n\n${text}` }],
    }),
    ['sent']
  );
}
