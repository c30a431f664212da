/**
 * What a reviewer does to a case, as FHIR writes that follow the e-consult Task lifecycle
 * (fhir-profiles/README.md): requested → accepted → in-progress ⇄ on-hold → completed. Completion
 * itself is the disposition bot's: the app writes the completed derm-review QuestionnaireResponse
 * and the bot records the results (DiagnosticReport, prescriptions, ...) and completes the Task.
 */
import { BUSINESS_STATUS, createResource, updateResource } from './sources.js';

export const REVIEW_QUESTIONNAIRE = 'https://dermbridge.example.org/fhir/Questionnaire/derm-review';
const DISPLAY = {
  accepted: 'Accepted',
  'under-review': 'Under review',
  'awaiting-patient-response': 'Awaiting patient response',
  'awaiting-pcp-response': 'Awaiting PCP response',
};

function moved(task, status, businessCode, extra = {}) {
  return { ...task, ...extra, status, businessStatus: { coding: [{ system: BUSINESS_STATUS, code: businessCode, display: DISPLAY[businessCode] }] } };
}

/** Accept and assign to me (Task.owner = fhirUser). */
export function accept(sources, task, userDisplay) {
  return updateResource(sources, moved(task, 'accepted', 'accepted', { owner: { reference: sources.fhirUser, display: userDisplay } }));
}

/** Moves the Task to in-progress from wherever the reviewer is (accepting first if unassigned). */
export async function startReview(sources, task, userDisplay) {
  let current = task;
  if (current.status === 'requested') current = await accept(sources, current, userDisplay);
  if (current.status === 'accepted' || current.status === 'on-hold') {
    current = await updateResource(sources, moved(current, 'in-progress', 'under-review'));
  }
  return current;
}

/** Asks the patient or the referring clinician; the Task waits on-hold until they answer. */
export async function askQuestion(sources, { task, serviceRequest, patient }, recipient, text, userDisplay) {
  const current = await startReview(sources, task, userDisplay);
  const to = recipient === 'pcp' ? serviceRequest.requester : { reference: `Patient/${patient.id}` };
  await createResource(sources, {
    resourceType: 'Communication',
    status: 'completed',
    subject: { reference: `Patient/${patient.id}` },
    basedOn: [{ reference: `ServiceRequest/${serviceRequest.id}` }],
    about: [{ reference: `Task/${task.id}` }],
    sender: { reference: sources.fhirUser },
    recipient: to ? [to] : undefined,
    sent: new Date().toISOString(),
    payload: [{ contentString: text }],
  });
  return updateResource(sources, moved(current, 'on-hold', recipient === 'pcp' ? 'awaiting-pcp-response' : 'awaiting-patient-response'));
}

/** The reply arrived (or the reviewer goes on without it): back to in-progress. */
export function resume(sources, task) {
  return updateResource(sources, moved(task, 'in-progress', 'under-review'));
}

/** Files the completed review; the disposition bot takes it from there. */
export async function submitReview(sources, { task, serviceRequest, patient }, questionnaire, items, userDisplay) {
  await startReview(sources, task, userDisplay);
  return createResource(sources, {
    resourceType: 'QuestionnaireResponse',
    questionnaire: `${REVIEW_QUESTIONNAIRE}|${questionnaire.version}`,
    status: 'completed',
    subject: { reference: `Patient/${patient.id}` },
    basedOn: [{ reference: `ServiceRequest/${serviceRequest.id}` }],
    author: { reference: sources.fhirUser, display: userDisplay },
    authored: new Date().toISOString(),
    item: items,
  });
}
