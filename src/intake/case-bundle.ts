import type { Bundle, BundleEntry, Media, Patient, QuestionnaireResponse, Resource, ServiceRequest, Task } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import { CODE_SYSTEM_URLS, ECONSULT_TASK_CODE, PROFILE_URLS } from '../cases/canonical-urls';
import type { ProcessedPhoto } from '../images/process-photo';
import { photoMedia, type PhotoBinaries, type Ref } from './photo-media';
import type { PlacedPhoto } from './photo-placement';

export const CASE_ID_SYSTEM = 'https://dermbridge.example.org/fhir/sid/case-id';
/** Identifies what one submission created, so a retry finds it (idempotency). */
export const SUBMISSION_SYSTEM = 'https://dermbridge.example.org/fhir/sid/intake-submission';

export const ECONSULT_CODE = { system: CODE_SYSTEM_URLS.caseType, code: 'derm-econsult', display: 'Dermatology e-consult (store-and-forward)' };

export type PatientTarget = { readonly reference: string } | { readonly create: Patient; readonly ifNoneExist: string };

export interface StoredPhoto {
  readonly placed: PlacedPhoto;
  readonly photo: ProcessedPhoto;
  readonly binaries: PhotoBinaries;
}

export interface CaseDraft {
  /** Primary submission key (hex); the others are extra identifiers a retry may use. */
  readonly key: string;
  readonly otherKeys: readonly string[];
  readonly caseNumber: string;
  /** The case's Patient: it exists already, since the photos' Binaries name it as securityContext. */
  readonly patient: Ref;
  readonly response: QuestionnaireResponse;
  readonly photos: readonly StoredPhoto[];
  /** Who asks: a Practitioner/PractitionerRole/Patient reference, or 'patient' for the case's own patient. */
  readonly requester: Ref | 'patient';
  readonly priority: 'routine' | 'urgent' | 'asap' | 'stat';
  readonly dueHours: number;
  readonly reason?: string;
  readonly now: Date;
}

const post = (resource: Resource, fullUrl: string, ifNoneExist?: string): BundleEntry => ({
  fullUrl,
  resource,
  request: { method: 'POST', url: resource.resourceType, ...(ifNoneExist ? { ifNoneExist } : {}) },
});
const urn = (): string => `urn:uuid:${randomUUID()}`;
const byIdentifier = (system: string, value: string): string => `identifier=${system}|${value}`;

/**
 * The case as ONE FHIR transaction (https://hl7.org/fhir/R4/http.html#transaction): the store
 * applies all of it or none. Every entry is a conditional create on an identifier, so a replay of
 * the same submission creates nothing new. The photos' images are already stored (raw bytes,
 * photo-binaries.ts) and only referenced here. Order: QuestionnaireResponse, Media,
 * ServiceRequest, Task.
 */
export function buildCaseBundle(draft: CaseDraft): { bundle: Bundle; indexOf: { serviceRequest: number } } {
  const entries: BundleEntry[] = [];
  const patientRef = draft.patient;
  const srUrn = urn();
  const qrUrn = urn();
  const receivedAt = draft.now.toISOString();
  const mediaUrns: string[] = [];
  const mediaEntries: BundleEntry[] = [];
  draft.photos.forEach((stored, n) => {
    const identifier = { system: SUBMISSION_SYSTEM, value: `${draft.key}-photo-${n + 1}` };
    const media: Media = photoMedia({
      placed: stored.placed,
      photo: stored.photo,
      binaries: stored.binaries,
      patient: patientRef,
      caseRef: { reference: srUrn },
      identifier,
      receivedAt,
    });
    const mediaUrn = urn();
    mediaUrns.push(mediaUrn);
    mediaEntries.push(post(media, mediaUrn, byIdentifier(identifier.system, identifier.value)));
  });
  const requester = draft.requester === 'patient' ? patientRef : draft.requester;
  const response: QuestionnaireResponse = { ...draft.response, subject: patientRef, author: draft.response.author ?? requester };
  const qrIdentifier = response.identifier ?? { system: SUBMISSION_SYSTEM, value: draft.key };
  entries.push(post({ ...response, identifier: qrIdentifier }, qrUrn, byIdentifier(qrIdentifier.system ?? '', qrIdentifier.value ?? '')));
  entries.push(...mediaEntries);
  const serviceRequest: ServiceRequest = {
    resourceType: 'ServiceRequest',
    meta: { profile: [PROFILE_URLS.econsultServiceRequest] },
    identifier: [
      { system: CASE_ID_SYSTEM, value: draft.caseNumber },
      ...[draft.key, ...draft.otherKeys].map((value) => ({ system: SUBMISSION_SYSTEM, value })),
    ],
    status: 'active',
    intent: 'order',
    code: { coding: [ECONSULT_CODE] },
    priority: draft.priority,
    subject: patientRef,
    authoredOn: receivedAt,
    requester,
    ...(draft.reason ? { reasonCode: [{ text: draft.reason }] } : {}),
    supportingInfo: [{ reference: qrUrn }, ...mediaUrns.map((reference) => ({ reference }))],
  };
  const srIndex = entries.length;
  entries.push(post(serviceRequest, srUrn, byIdentifier(SUBMISSION_SYSTEM, draft.key)));
  const task: Task = {
    resourceType: 'Task',
    meta: { profile: [PROFILE_URLS.econsultTask] },
    identifier: [{ system: SUBMISSION_SYSTEM, value: draft.key }],
    status: 'requested',
    businessStatus: { coding: [{ system: CODE_SYSTEM_URLS.taskBusinessStatus, code: 'received', display: 'Received' }] },
    intent: 'order',
    priority: draft.priority,
    code: { coding: [{ ...ECONSULT_TASK_CODE, display: 'Review dermatology e-consult' }] },
    focus: { reference: srUrn },
    for: patientRef,
    authoredOn: receivedAt,
    requester,
    restriction: { period: { end: new Date(draft.now.getTime() + draft.dueHours * 3600_000).toISOString() } },
  };
  entries.push(post(task, urn(), byIdentifier(SUBMISSION_SYSTEM, draft.key)));
  return { bundle: { resourceType: 'Bundle', type: 'transaction', entry: entries }, indexOf: { serviceRequest: srIndex } };
}

/** The id a transaction-response entry created or matched. */
export function idOfEntry(bundle: Bundle, index: number): string {
  const entry = bundle.entry?.[index];
  const id = entry?.resource?.id ?? entry?.response?.location?.split('/')[1];
  if (!id) {
    throw new Error(`transaction response has no id for entry ${index}`);
  }
  return id;
}
