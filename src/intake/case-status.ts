import type { Communication, Media, ServiceRequest, Task } from '@medplum/fhirtypes';
import type { AccessContext } from '../auth/access-context';
import { ECONSULT_CODE, CASE_ID_SYSTEM } from './case-bundle';
import type { Caller } from './case-store';
import { IntakeError, toIntakeError } from './intake-error';
import { readDerivative, readQuality } from './photo-media';

/** What the submitter sees of their case: its state, its photos with their quality, messages to them. */
export interface CaseStatus {
  readonly caseId: string;
  readonly caseNumber?: string;
  readonly patient?: string;
  readonly submittedAt?: string;
  readonly priority?: string;
  readonly status: string;
  readonly businessStatus?: { readonly code?: string; readonly display?: string };
  readonly questionnaireResponse?: string;
  readonly photos: readonly CasePhoto[];
  readonly messages: readonly CaseMessage[];
}

export interface CasePhoto {
  readonly media: string;
  readonly view?: string;
  readonly bodySite?: string;
  readonly width?: number;
  readonly height?: number;
  readonly image?: string;
  readonly review?: string;
  readonly thumbnail?: string;
  readonly quality?: Record<string, unknown>;
}

export interface CaseMessage {
  readonly id?: string;
  readonly sent?: string;
  readonly from?: string;
  readonly text: string;
}

/**
 * Reads the case with the caller's token: the FHIR server decides whether it is theirs (a patient
 * token outside its compartment gets nothing), and a case they may not see is "not found".
 */
export async function loadCaseStatus(caller: Caller, caseId: string): Promise<CaseStatus> {
  const sr = await readCase(caller, caseId);
  const ref = `ServiceRequest/${caseId}`;
  const [tasks, media, communications] = await Promise.all([
    caller.medplum.searchResources('Task', { focus: ref, _count: '10' }),
    caller.medplum.searchResources('Media', { 'based-on': ref, _count: '100' }),
    caller.medplum.searchResources('Communication', { 'based-on': ref, _count: '100' }),
  ]);
  return caseStatusOf(sr, tasks[0], media, communications.filter((c) => addressedTo(c, caller.access)));
}

/** The status document from the case's resources (also used right after a submission, from the transaction response). */
export function caseStatusOf(sr: ServiceRequest, task: Task | undefined, media: readonly Media[], messages: readonly Communication[]): CaseStatus {
  const business = task?.businessStatus?.coding?.[0];
  return {
    caseId: sr.id as string,
    caseNumber: sr.identifier?.find((i) => i.system === CASE_ID_SYSTEM)?.value,
    patient: sr.subject?.reference,
    submittedAt: sr.authoredOn,
    priority: task?.priority ?? sr.priority,
    status: task?.status ?? sr.status,
    businessStatus: business ? { code: business.code, display: business.display } : undefined,
    questionnaireResponse: sr.supportingInfo?.find((s) => s.reference?.startsWith('QuestionnaireResponse/'))?.reference,
    photos: media.map(casePhoto),
    messages: messages.map(caseMessage),
  };
}

export async function readCase(caller: Caller, caseId: string): Promise<ServiceRequest> {
  if (!/^[A-Za-z0-9\-.]{1,64}$/.test(caseId)) {
    throw new IntakeError(404, 'case-not-found', 'No such case, or it is not yours.');
  }
  const sr = await caller.medplum.readResource('ServiceRequest', caseId).catch((err: unknown) => {
    throw toIntakeError(err) ?? err;
  });
  if (!sr.code?.coding?.some((c) => c.system === ECONSULT_CODE.system && c.code === ECONSULT_CODE.code)) {
    throw new IntakeError(404, 'case-not-found', 'No such case, or it is not yours.');
  }
  return sr;
}

function casePhoto(m: Media): CasePhoto {
  return {
    media: `Media/${m.id}`,
    view: m.view?.coding?.[0]?.code,
    bodySite: m.bodySite?.text ?? m.bodySite?.coding?.[0]?.display,
    width: m.width,
    height: m.height,
    image: m.content?.url,
    review: readDerivative(m, 'review'),
    thumbnail: readDerivative(m, 'thumbnail'),
    quality: readQuality(m),
  };
}

/** Patients see what is addressed to them; clinicians what is addressed to them; system clients everything. */
function addressedTo(c: Communication, access: AccessContext): boolean {
  const recipients = (c.recipient ?? []).map((r) => r.reference);
  if (access.patientId) {
    return recipients.includes(`Patient/${access.patientId}`);
  }
  if (/^(Practitioner|PractitionerRole|Patient)\//.test(access.subject)) {
    return recipients.includes(access.subject);
  }
  return true;
}

function caseMessage(c: Communication): CaseMessage {
  return {
    id: c.id,
    sent: c.sent,
    from: c.sender?.display ?? c.sender?.reference,
    text: (c.payload ?? []).map((p) => p.contentString ?? p.contentAttachment?.title ?? '').filter(Boolean).join('\n'),
  };
}
