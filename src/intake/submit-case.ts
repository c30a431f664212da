import { OperationOutcomeError } from '@medplum/core';
import type { Bundle, Media, Patient, Questionnaire, QuestionnaireResponse, ServiceRequest, Task } from '@medplum/fhirtypes';
import { createHash, randomUUID } from 'node:crypto';
import { QUESTIONNAIRE_URLS } from '../cases/canonical-urls';
import { assertQuestionnaireResponse } from '../cases/questionnaire-response-check';
import { PhotoError } from '../images/photo-error';
import { processPhotoStaged, type StagedPhoto } from '../images/photo-thread';
import { checkInput } from '../images/process-photo';
import { DUE_AFTER_HOURS } from '../triage/rules';
import type { Ref } from './photo-media';
import { buildCaseBundle, idOfEntry, SUBMISSION_SYSTEM, type PatientTarget, type StoredPhoto } from './case-bundle';
import type { Caller } from './case-store';
import { caseStatusOf, type CaseStatus } from './case-status';
import { executeCaseTransaction } from './case-transaction';
import type { IntakeDeps } from './intake-deps';
import { IntakeError } from './intake-error';
import { PhotoBinaryUploads } from './photo-binaries';
import { answerOf, placePhotos, type PhotoUpload, type PlacedPhoto } from './photo-placement';

/** One submission, whichever way it arrived (multipart or a FHIR Bundle). */
export interface Submission {
  readonly response: QuestionnaireResponse;
  readonly uploads: readonly PhotoUpload[];
  /** For clinician and system callers: `Patient/<id>`, or a Patient with an identifier to match or create. */
  readonly patient?: Patient | Ref;
  readonly idempotencyKey?: string;
}

export interface SubmitResult {
  readonly caseId: string;
  readonly created: boolean;
  /** For a new case: its status, read from the transaction response (no second round trip). */
  readonly status?: CaseStatus;
}

const ACCEPTED = new Set<string>([QUESTIONNAIRE_URLS.intake, QUESTIONNAIRE_URLS.econsult]);

/**
 * Validates a submission completely (answers, photo links, every photo decoded by the pipeline)
 * before writing anything; then, through the caller's own MedplumClient, a new Patient (if one is
 * needed), the photos' images as raw Binary uploads (photo-binaries.ts) and the case as one
 * transaction. If anything after the first write fails, what was written is deleted again: nothing
 * is left unless everything is.
 */
export async function submitCase(deps: IntakeDeps, caller: Caller, submission: Submission): Promise<SubmitResult> {
  const questionnaire = questionnaireFor(deps, submission.response);
  if (submission.uploads.length > deps.maxPhotos) {
    throw new IntakeError(413, 'too-many-photos', `At most ${deps.maxPhotos} photos can be sent with one case; ${submission.uploads.length} were sent.`);
  }
  const given = patientTarget(caller, submission);
  const keys = submissionKeys(caller, submission);
  // The two lookups wait on the store, the pipeline on libvips' threads: they run at the same time.
  const lookups = Promise.all([matchExistingPatient(caller, given), findSubmitted(caller, keys.all)]);
  let response: QuestionnaireResponse | undefined;
  let placed: PlacedPhoto[] = [];
  let staged: StagedPhoto[] | undefined;
  let invalid: unknown;
  try {
    ({ response, placed } = checkSubmission(deps, questionnaire, submission));
    staged = placed.map((p) => stageNamed(deps, p));
  } catch (err) {
    invalid = err;
  }
  const [target, existing] = await lookups;
  if (existing) {
    // A retry is answered with its case, whatever its body.
    return { caseId: existing, created: false };
  }
  if (invalid !== undefined || !response || !staged) {
    throw invalid;
  }
  // Once every photo has decoded, nothing the submitter sent can fail any more: the first write
  // starts now, while the images are still being encoded, and each image is stored as soon as it
  // is ready (an encoding that fails after all is a server fault; the writes are undone below).
  await Promise.all(staged.map((s) => s.decoded));
  const { patient, createdPatient } = await ensurePatient(caller, target);
  const uploads = new PhotoBinaryUploads(caller, patient);
  try {
    const binaries = await uploads.uploadAll(staged.map((s) => s.images));
    const processed = await Promise.all(staged.map((s) => s.done));
    const photos = placed.map((p, i): StoredPhoto => {
      const photo = processed[i];
      p.answer.valueAttachment = { url: binaries[i].original, contentType: photo.original.contentType, size: photo.original.bytes.length, title: p.upload.filename, creation: p.upload.takenAt };
      return { placed: p, photo, binaries: binaries[i] };
    });
    return await writeCase(deps, caller, uploads, { keys, patient, response, photos, questionnaire });
  } catch (err) {
    // Nothing of a case that was not written stays: its Binaries, and its Patient if this submission created it.
    await uploads.discard(deps.logError);
    if (createdPatient) {
      await caller.medplum.deleteResource('Patient', createdPatient).catch(deps.logError);
    }
    throw err;
  }
}

/** Photos placed on their answers, and the answers checked against the Questionnaire (the photos provisionally). */
function checkSubmission(deps: IntakeDeps, questionnaire: Questionnaire, submission: Submission): { response: QuestionnaireResponse; placed: PlacedPhoto[] } {
  const response: QuestionnaireResponse = structuredClone(submission.response);
  const placed = placePhotos(questionnaire, response, submission.uploads);
  for (const p of placed) {
    const kind = checkInputNamed(p.upload, deps);
    // provisional until the pipeline has run: what the answer checks need (type, size)
    p.answer.valueAttachment = { url: `urn:uuid:${randomUUID()}`, contentType: kind === 'png' ? 'image/png' : 'image/jpeg', size: p.upload.bytes.length, title: p.upload.filename };
  }
  checkAnswers(deps, questionnaire, response);
  return { response, placed };
}

/** The photo through the pipeline, its failures named after the photo and its question. */
function stageNamed(deps: IntakeDeps, p: PlacedPhoto): StagedPhoto {
  const named = <T>(promise: Promise<T>): Promise<T> => {
    const mapped = promise.catch((err: unknown) => {
      throw err instanceof PhotoError ? new IntakeError(err.status, err.code, `Photo '${p.upload.filename}' (${p.linkId}): ${err.message}`, [{ where: p.upload.ref, message: err.message }]) : err;
    });
    // Handled here too: when a retry is answered with its existing case, nobody awaits the photos.
    mapped.catch(() => undefined);
    return mapped;
  };
  const staged = p.upload.staged ?? processPhotoStaged(p.upload.bytes, deps.photoLimits);
  const { original, review, thumbnail } = staged.images;
  return { decoded: named(staged.decoded), images: { original: named(original), review: named(review), thumbnail: named(thumbnail) }, done: named(staged.done) };
}

interface CaseParts {
  readonly keys: { primary: string; all: string[] };
  readonly patient: Ref;
  readonly response: QuestionnaireResponse;
  readonly photos: readonly StoredPhoto[];
  readonly questionnaire: Questionnaire;
}

/** The case transaction: QuestionnaireResponse, Media, ServiceRequest, Task (case-bundle.ts). */
async function writeCase(deps: IntakeDeps, caller: Caller, uploads: PhotoBinaryUploads, c: CaseParts): Promise<SubmitResult> {
  const now = new Date();
  const priority = priorityOf(c.response);
  const { bundle, indexOf } = buildCaseBundle({
    key: c.keys.primary,
    otherKeys: c.keys.all.filter((k) => k !== c.keys.primary),
    caseNumber: `DB-${now.getUTCFullYear()}-${c.keys.primary.slice(0, 10).toUpperCase()}`,
    patient: c.patient,
    response: { ...c.response, authored: c.response.authored ?? now.toISOString() },
    photos: c.photos,
    requester: requesterOf(caller, c.response, c.questionnaire),
    priority,
    dueHours: priority === 'routine' ? DUE_AFTER_HOURS.P2 : DUE_AFTER_HOURS.P1,
    reason: reasonOf(c.response),
    now,
  });
  const result: Bundle = await executeCaseTransaction(caller, bundle, deps.capabilities);
  const caseId = idOfEntry(result, indexOf.serviceRequest);
  if (!result.entry?.[indexOf.serviceRequest]?.response?.status?.startsWith('201')) {
    // A concurrent retry won the race: its case was matched, so this one's Binaries are orphans.
    await uploads.discard(deps.logError);
    return { caseId, created: false };
  }
  return { caseId, created: true, status: statusFromTransaction(result, indexOf.serviceRequest) };
}

/**
 * The Patient has to exist before the photos' Binaries are written: their securityContext names it
 * (that is what puts them in the patient's compartment). A new one is a conditional create on its
 * identifier, so a concurrent submission for the same patient matches it instead of duplicating it.
 */
async function ensurePatient(caller: Caller, target: PatientTarget): Promise<{ patient: Ref; createdPatient?: string }> {
  if (!('create' in target)) {
    return { patient: { reference: target.reference } };
  }
  const patient = await caller.medplum.createResourceIfNoneExist(target.create, target.ifNoneExist);
  // matchExistingPatient found none a moment ago, so this submission created it and removes it if the case fails.
  return { patient: { reference: `Patient/${patient.id}` }, createdPatient: patient.id };
}

export function questionnaireFor(deps: IntakeDeps, response: QuestionnaireResponse): Questionnaire {
  if (response?.resourceType !== 'QuestionnaireResponse') {
    throw new IntakeError(400, 'questionnaire-response-required', 'Send the answers as a FHIR QuestionnaireResponse (resourceType "QuestionnaireResponse").');
  }
  const url = (response.questionnaire ?? '').split('|')[0];
  const questionnaire = deps.questionnaires.get(url);
  if (!ACCEPTED.has(url) || !questionnaire) {
    throw new IntakeError(422, 'questionnaire-not-accepted', `A case must answer ${QUESTIONNAIRE_URLS.intake} (patients) or ${QUESTIONNAIRE_URLS.econsult} (referring clinicians); this response answers '${response.questionnaire ?? '(none)'}'.`, [{ where: 'QuestionnaireResponse.questionnaire', message: 'not an intake Questionnaire' }]);
  }
  return questionnaire;
}

function checkAnswers(deps: IntakeDeps, questionnaire: Questionnaire, response: QuestionnaireResponse): void {
  try {
    assertQuestionnaireResponse(questionnaire, response, { valueSets: deps.valueSets, requireComplete: true });
  } catch (err) {
    if (err instanceof OperationOutcomeError) {
      const errors = (err.outcome.issue ?? []).map((i) => ({ where: i.expression?.[0], message: i.details?.text ?? i.diagnostics ?? i.code }));
      throw new IntakeError(422, 'questionnaire-response-invalid', `The answers are incomplete or invalid: ${errors.map((e) => e.message).join('; ')}`, errors);
    }
    throw err;
  }
}

function checkInputNamed(upload: PhotoUpload, deps: IntakeDeps): string {
  try {
    return checkInput(upload.bytes, deps.photoLimits);
  } catch (err) {
    if (err instanceof PhotoError) {
      throw new IntakeError(err.status, err.code, `Photo '${upload.filename}': ${err.message}`, [{ where: upload.ref, message: err.message }]);
    }
    throw err;
  }
}

function patientTarget(caller: Caller, submission: Submission): PatientTarget {
  const { patientId } = caller.access;
  const subject = submission.response.subject?.reference;
  if (patientId) {
    // A patient submits for themselves: the token says who; the FHIR server enforces the compartment.
    if (subject && !subject.startsWith('urn:') && subject !== `Patient/${patientId}`) {
      throw new IntakeError(403, 'subject-not-caller', 'A patient can only submit a case about themselves (QuestionnaireResponse.subject).');
    }
    return { reference: `Patient/${patientId}` };
  }
  const given = submission.patient;
  if (given && 'reference' in given && given.reference?.startsWith('Patient/')) {
    return { reference: given.reference };
  }
  if (given && 'resourceType' in given && given.resourceType === 'Patient') {
    const id = given.identifier?.find((i) => i.system && i.value);
    if (!id) {
      throw new IntakeError(422, 'patient-identifier-required', 'The Patient needs an identifier (system and value, e.g. the MRN) so an existing record is matched instead of duplicated.', [{ where: 'Patient.identifier', message: 'required' }]);
    }
    return { create: given, ifNoneExist: `identifier=${id.system}|${id.value}` };
  }
  if (subject?.startsWith('Patient/')) {
    return { reference: subject };
  }
  throw new IntakeError(422, 'patient-required', 'Say whom the case is about: a `patient` part (a Patient with an identifier, or {"reference":"Patient/<id>"}) or QuestionnaireResponse.subject.');
}

/** Looks the Patient up first: a match is referenced as it is; otherwise ensurePatient creates it. */
async function matchExistingPatient(caller: Caller, target: PatientTarget): Promise<PatientTarget> {
  if (!('create' in target)) {
    return target;
  }
  const matches = await caller.medplum.searchResources('Patient', `${target.ifNoneExist}&_count=2`);
  if (matches.length > 1) {
    throw new IntakeError(409, 'patient-ambiguous', `More than one Patient has this identifier (${target.ifNoneExist.slice('identifier='.length)}); resolve the duplicate records first or send {"reference":"Patient/<id>"}.`);
  }
  return matches.length === 1 ? { reference: `Patient/${matches[0].id}` } : target;
}

/**
 * Keys a retry can be recognised by: the Idempotency-Key header (scoped to the caller, so two
 * clients cannot collide) and the response's own identifier. Hashed: identifiers in the store
 * reveal neither.
 */
function submissionKeys(caller: Caller, submission: Submission): { primary: string; all: string[] } {
  const hash = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 32);
  const all: string[] = [];
  if (submission.idempotencyKey) {
    all.push(hash(`header|${caller.access.clientId}|${caller.access.subject}|${submission.idempotencyKey}`));
  }
  const id = submission.response.identifier;
  if (id?.value) {
    all.push(hash(`qr|${id.system ?? ''}|${id.value}`));
  }
  return { primary: all[0] ?? hash(randomUUID()), all };
}

async function findSubmitted(caller: Caller, keys: readonly string[]): Promise<string | undefined> {
  if (keys.length === 0) {
    return undefined;
  }
  const found = await caller.medplum.searchResources('ServiceRequest', { identifier: keys.map((k) => `${SUBMISSION_SYSTEM}|${k}`).join(','), _count: '1' });
  return found[0]?.id;
}

function requesterOf(caller: Caller, response: QuestionnaireResponse, questionnaire: Questionnaire): Ref | 'patient' {
  const isPerson = (ref?: string): boolean => !!ref && /^(Practitioner|PractitionerRole|Patient)\//.test(ref);
  if (isPerson(caller.access.subject)) {
    return { reference: caller.access.subject };
  }
  if (isPerson(response.author?.reference)) {
    return { reference: response.author?.reference };
  }
  if (questionnaire.url === QUESTIONNAIRE_URLS.intake) {
    return 'patient'; // the case's own patient: an e-visit
  }
  throw new IntakeError(422, 'requester-required', 'An e-consult sent by a system client must name the referring clinician in QuestionnaireResponse.author (Practitioner/<id>).', [{ where: 'QuestionnaireResponse.author', message: 'required' }]);
}

/**
 * Initial priority: the referring clinician's urgency (strong suspicion of cancer is at least
 * urgent, NICE NG12); patients' cases start routine and the triage bot sets the triaged priority.
 */
function priorityOf(response: QuestionnaireResponse): 'routine' | 'urgent' | 'asap' {
  const items = response.item ?? [];
  const urgency = answerOf(items, 'pcp-urgency')?.valueCoding?.code;
  const suspects = answerOf(items, 'pcp-suspects-cancer')?.valueBoolean === true;
  if (urgency === 'asap') return 'asap';
  if (urgency === 'urgent' || suspects) return 'urgent';
  return 'routine';
}

function reasonOf(response: QuestionnaireResponse): string | undefined {
  const items = response.item ?? [];
  const text = answerOf(items, 'clinical-question')?.valueString ?? answerOf(items, 'concern-description')?.valueString;
  return text ? text.slice(0, 500) : undefined;
}

/** Undefined when the store answered without resources (e.g. a server honouring return=minimal): the route then reads the case. */
function statusFromTransaction(result: Bundle, srIndex: number): CaseStatus | undefined {
  const resources = (result.entry ?? []).map((e) => e.resource);
  const sr = resources[srIndex] as ServiceRequest | undefined;
  const task = resources.find((r): r is Task => r?.resourceType === 'Task');
  const media = resources.filter((r): r is Media => r?.resourceType === 'Media');
  if (sr?.resourceType !== 'ServiceRequest' || !task) {
    return undefined;
  }
  return caseStatusOf(sr, task, media, []);
}
