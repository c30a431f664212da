/**
 * Two data sources, joined by patient identifier:
 * - the EHR (the launching server): who the user is, the patient in context and their chart
 *   (problems, medications, allergies), read with the SMART token;
 * - the dermbridge case store: e-consult Tasks, ServiceRequests, intake answers, photos, triage.
 * In development the embedded server is both, so both are the same client and one token. Against a
 * real EHR the case store is another server (dermbridge, or Medplum in production): its token comes
 * from exchanging the EHR's tokens there (case-store-token.js); the join by identifier does not change.
 */
import { caseStoreClient, caseStoreUser } from './case-store-token.js';

export const CASE_TASK_CODE = 'https://dermbridge.example.org/fhir/CodeSystem/derm-case-type|econsult-review';
export const BUSINESS_STATUS = 'https://dermbridge.example.org/fhir/CodeSystem/econsult-business-status';
const OPEN_STATUSES = 'requested,accepted,in-progress,on-hold';

const strip = (url) => String(url ?? '').replace(/\/+$/, '');

/** The EHR's token for EHR data; for the case store, the same client or one with an exchanged token. */
export async function createSources(client, config) {
  const sameServer = strip(client.state.serverUrl) === strip(config.caseStore);
  const cases = sameServer ? client : await caseStoreClient(client, config);
  return {
    ehr: client,
    cases,
    // Who the user is in the case store (Task.owner, Communication.sender): the exchange says so.
    fhirUser: sameServer ? client.getFhirUser() : caseStoreUser(cases.state.tokenResponse) ?? client.getFhirUser(),
    patientId: client.getPatientId(),
    // What the app may do with cases: the case store's grant, not the EHR's.
    get grantedScope() {
      return cases.state.tokenResponse?.scope ?? '';
    },
  };
}

/** Entries of a searchset, following `next` links (fhirclient's `pageLimit: 0` = all pages). */
async function search(client, query) {
  const pages = await client.request(query, { pageLimit: 0, flat: true });
  return Array.isArray(pages) ? pages : [];
}

/** The EHR's chart for a patient; each part is optional (an EHR may not grant it). */
export async function loadEhrChart(sources, patientId) {
  const { ehr } = sources;
  if (!patientId) return undefined;
  const optional = (query) => search(ehr, query).catch(() => undefined);
  const [patient, conditions, medications, allergies] = await Promise.all([
    ehr.request(`Patient/${patientId}`),
    optional(`Condition?patient=${patientId}&_count=50`),
    optional(`MedicationRequest?patient=${patientId}&status=active&_count=50`),
    optional(`AllergyIntolerance?patient=${patientId}&_count=50`),
  ]);
  return { patient, conditions, medications, allergies };
}

/** Case-store Patient ids for an EHR patient: same identifier (system|value), never the same id by chance. */
export async function casePatientIds(sources, ehrPatient) {
  if (sources.cases === sources.ehr) return [ehrPatient.id];
  const ids = new Set();
  for (const id of ehrPatient.identifier ?? []) {
    if (!id.system || !id.value) continue;
    const found = await search(sources.cases, `Patient?identifier=${encodeURIComponent(`${id.system}|${id.value}`)}`);
    found.forEach((p) => p.resourceType === 'Patient' && ids.add(p.id));
  }
  return [...ids];
}

/** The EHR's id for a case-store patient, by identifier (the reverse of casePatientIds). */
export async function ehrPatientIdFor(sources, casePatient) {
  if (sources.cases === sources.ehr) return casePatient.id;
  for (const id of casePatient.identifier ?? []) {
    if (!id.system || !id.value) continue;
    const [found] = await search(sources.ehr, `Patient?identifier=${encodeURIComponent(`${id.system}|${id.value}`)}`).catch(() => []);
    if (found) return found.id;
  }
  return undefined;
}

/** Open e-consult Tasks (optionally for some patients) with their patients. */
export async function loadQueue(sources, patientIds) {
  const forPatients = patientIds ? `&subject=${patientIds.map((id) => `Patient/${id}`).join(',')}` : '';
  const entries = await search(sources.cases, `Task?code=${encodeURIComponent(CASE_TASK_CODE)}&status=${OPEN_STATUSES}${forPatients}&_count=100&_include=Task:subject`);
  const patients = new Map(entries.filter((r) => r.resourceType === 'Patient').map((p) => [`Patient/${p.id}`, p]));
  return entries.filter((r) => r.resourceType === 'Task').map((task) => ({ task, patient: patients.get(task.for?.reference) }));
}

/** Everything the case view shows. */
export async function loadCase(sources, taskId) {
  const { cases } = sources;
  const task = await cases.request(`Task/${taskId}`);
  const [serviceRequest, patient] = await Promise.all([cases.request(task.focus.reference), cases.request(task.for.reference)]);
  const supporting = (type) => (serviceRequest.supportingInfo ?? []).map((r) => r.reference).filter((ref) => ref?.startsWith(`${type}/`));
  const srRef = `ServiceRequest/${serviceRequest.id}`;
  const [responses, media, assessments, communications] = await Promise.all([
    Promise.all(supporting('QuestionnaireResponse').map((ref) => cases.request(ref))),
    Promise.all(supporting('Media').map((ref) => cases.request(ref))),
    search(cases, `RiskAssessment?subject=${task.for.reference}&_count=50`),
    search(cases, `Communication?based-on=${srRef}&_count=100`).catch(() => []),
  ]);
  const triage = assessments.filter((ra) => ra.resourceType === 'RiskAssessment' && ra.basedOn?.reference === srRef);
  const [priorMedia, questionTexts] = await Promise.all([priorPhotos(sources, patient, media), questionTextsFor(sources, responses)]);
  const messages = communications.filter((c) => c.resourceType === 'Communication').sort((a, b) => String(a.sent).localeCompare(String(b.sent)));
  return { task, serviceRequest, patient, responses, media, triage: triage[0], priorMedia, questionTexts, messages };
}

/** linkId → question text, from the Questionnaires the responses answer (responses need not repeat the text). */
async function questionTextsFor(sources, responses) {
  const texts = new Map();
  const urls = [...new Set(responses.map((qr) => String(qr.questionnaire ?? '').split('|')[0]).filter(Boolean))];
  const walk = (items = []) => items.forEach((i) => { if (i.text) texts.set(i.linkId, i.text); walk(i.item); });
  for (const url of urls) walk((await findQuestionnaire(sources, url).catch(() => undefined))?.item);
  return texts;
}

/** Photos of the same patient and body sites from other cases, oldest first, for lesion tracking. */
async function priorPhotos(sources, patient, media) {
  const sites = new Set(media.map((m) => m.bodySite?.coding?.[0]?.code).filter(Boolean));
  if (sites.size === 0) return [];
  const mine = new Set(media.map((m) => m.id));
  const all = await search(sources.cases, `Media?subject=Patient/${patient.id}&_count=100`).catch(() => []);
  return all
    .filter((m) => m.resourceType === 'Media' && !mine.has(m.id) && sites.has(m.bodySite?.coding?.[0]?.code))
    .sort((a, b) => String(a.createdDateTime).localeCompare(String(b.createdDateTime)));
}

/** A photo's bytes with the bearer token (an <img src> cannot send one), as a blob: URL. */
export async function photoUrl(sources, media) {
  const client = sources.cases;
  await client.refreshIfNeeded();
  const url = new URL(media.content.url, strip(client.state.serverUrl) + '/');
  const res = await fetch(url, { headers: { authorization: `Bearer ${client.state.tokenResponse.access_token}`, accept: media.content.contentType ?? 'image/*' }, credentials: 'omit' });
  if (!res.ok) throw new Error(`Photo ${media.id}: ${res.status}`);
  return URL.createObjectURL(await res.blob());
}

/** PUT with If-Match, so a colleague's concurrent change is never silently overwritten. */
export function updateResource(sources, resource) {
  return sources.cases.update(resource, { headers: { 'If-Match': `W/"${resource.meta?.versionId}"` } });
}

export function createResource(sources, resource) {
  return sources.cases.create(resource);
}

export async function findQuestionnaire(sources, url) {
  const [q] = await search(sources.cases, `Questionnaire?url=${encodeURIComponent(url)}`);
  return q;
}

export async function findValueSet(sources, url) {
  const [vs] = await search(sources.cases, `ValueSet?url=${encodeURIComponent(url)}`).catch(() => []);
  return vs;
}
