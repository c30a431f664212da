import type { Bundle, BundleEntry, Coding, Media, ServiceRequest, Task, ValueSet } from '@medplum/fhirtypes';
import { createHash, randomUUID } from 'node:crypto';
import type { Request } from 'express';
import { CODE_SYSTEM_URLS, VALUE_SET_BASE } from '../cases/canonical-urls';
import { PhotoError } from '../images/photo-error';
import { processPhotoOffThread } from '../images/photo-thread';
import type { ProcessedPhoto } from '../images/process-photo';
import { SUBMISSION_SYSTEM } from './case-bundle';
import type { Caller } from './case-store';
import { readCase } from './case-status';
import { executeCaseTransaction } from './case-transaction';
import type { IntakeDeps } from './intake-deps';
import { IntakeError } from './intake-error';
import { readMultipart } from './multipart-upload';
import { PhotoBinaryUploads } from './photo-binaries';
import { photoMedia, type PhotoBinaries } from './photo-media';
import type { PhotoView, PlacedPhoto } from './photo-placement';
import { idempotencyKeyOf, uploadsOf } from './submit-multipart';

const VIEWS = new Set<PhotoView>(['overview', 'close-up', 'dermoscopic']);

/**
 * `POST /intake/cases/:id/photos` (multipart): more or retaken photos for an existing case. Per file
 * part `<part>`: fields `<part>.view` (overview | close-up | dermoscopic), `<part>.bodySite` (SNOMED
 * CT code from derm-body-site), optional `<part>.siteDescription`, `<part>.scaleReference`
 * (true/false), `<part>.deviceName`, `<part>.takenAt`. The images are uploaded as Binaries first
 * (photo-binaries.ts, original, review copy and thumbnail; deleted again if the rest fails), then one transaction adds the Media and
 * links them to the ServiceRequest (If-Match on its version, so a concurrent change is not lost);
 * a Task waiting for the patient's photos goes back to the reviewer (on-hold → in-progress).
 */
export async function addPhotos(deps: IntakeDeps, caller: Caller, caseId: string, req: Request): Promise<number> {
  const sr = await readCase(caller, caseId);
  const body = await readMultipart(req, { maxFileBytes: deps.photoLimits.maxBytes, maxFiles: deps.maxPhotos, maxFieldBytes: 64 * 1024 });
  const uploads = uploadsOf(body);
  if (uploads.length === 0) {
    throw new IntakeError(400, 'photo-required', 'Send at least one photo file part.');
  }
  const key = idempotencyKeyOf(req);
  const keyHash = createHash('sha256').update(`photos|${caller.access.subject}|${caseId}|${key ?? randomUUID()}`).digest('hex').slice(0, 32);
  if (key) {
    const previous = await caller.medplum.searchResources('Media', { identifier: `${SUBMISSION_SYSTEM}|${keyHash}-photo-1`, _count: '1' });
    if (previous.length > 0) return 0;
  }
  const sites = bodySites(deps.valueSets.get(`${VALUE_SET_BASE}/derm-body-site`));
  const placed = uploads.map((upload) => {
    const field = upload.ref.slice('cid:'.length);
    const view = body.fields.get(`${field}.view`) as PhotoView;
    const code = body.fields.get(`${field}.bodySite`) ?? '';
    if (!VIEWS.has(view)) throw new IntakeError(422, 'photo-view-required', `'${field}.view' must be overview, close-up or dermoscopic.`, [{ where: `${field}.view`, message: 'required' }]);
    const site = sites.get(code);
    if (!site) throw new IntakeError(422, 'photo-body-site-required', `'${field}.bodySite' must be a SNOMED CT code from ${VALUE_SET_BASE}/derm-body-site.`, [{ where: `${field}.bodySite`, message: 'unknown body site' }]);
    return { upload, linkId: field, view, bodySite: site, siteDescription: body.fields.get(`${field}.siteDescription`)?.slice(0, 200), scaleReference: body.fields.get(`${field}.scaleReference`) === 'true', answer: {} };
  });
  const photos = await Promise.all(
    placed.map((p) =>
      processPhotoOffThread(p.upload.bytes, deps.photoLimits).catch((err: unknown) => {
        throw err instanceof PhotoError ? new IntakeError(err.status, err.code, `Photo '${p.upload.filename}': ${err.message}`, [{ where: p.linkId, message: err.message }]) : err;
      })
    )
  );
  const patient = { reference: sr.subject?.reference };
  const binaryUploads = new PhotoBinaryUploads(caller, patient);
  try {
    const binaries = await binaryUploads.uploadAll(photos);
    await executeCaseTransaction(caller, await photosBundle(caller, sr, placed, photos, binaries, keyHash), deps.capabilities);
  } catch (err) {
    await binaryUploads.discard(deps.logError);
    throw err;
  }
  return photos.length;
}

/** Per photo a Media on its uploaded Binaries (a conditional create, so a retry adds nothing); the ServiceRequest linking them; a waiting Task resumed. */
async function photosBundle(caller: Caller, sr: ServiceRequest, placed: readonly PlacedPhoto[], photos: readonly ProcessedPhoto[], binaries: readonly PhotoBinaries[], keyHash: string): Promise<Bundle> {
  const caseId = sr.id as string;
  const patient = { reference: sr.subject?.reference };
  const entries: BundleEntry[] = [];
  const mediaUrns: string[] = [];
  const receivedAt = new Date().toISOString();
  photos.forEach((photo, n) => {
    const identifier = { system: SUBMISSION_SYSTEM, value: `${keyHash}-photo-${n + 1}` };
    const media: Media = photoMedia({ placed: placed[n], photo, binaries: binaries[n], patient, caseRef: { reference: `ServiceRequest/${caseId}` }, identifier, receivedAt });
    const mediaUrn = urn();
    mediaUrns.push(mediaUrn);
    entries.push({ fullUrl: mediaUrn, resource: media, request: { method: 'POST', url: 'Media', ifNoneExist: `identifier=${identifier.system}|${identifier.value}` } });
  });
  const updated: ServiceRequest = { ...sr, supportingInfo: [...(sr.supportingInfo ?? []), ...mediaUrns.map((reference) => ({ reference }))] };
  entries.push({ resource: updated, request: { method: 'PUT', url: `ServiceRequest/${caseId}`, ifMatch: `W/"${sr.meta?.versionId}"` } });
  const task = await waitingTask(caller, caseId);
  if (task) {
    const resumed: Task = { ...task, status: 'in-progress', businessStatus: { coding: [{ system: CODE_SYSTEM_URLS.taskBusinessStatus, code: 'under-review', display: 'Under review' }] } };
    entries.push({ resource: resumed, request: { method: 'PUT', url: `Task/${task.id}`, ifMatch: `W/"${task.meta?.versionId}"` } });
  }
  return { resourceType: 'Bundle', type: 'transaction', entry: entries };
}

async function waitingTask(caller: Caller, caseId: string): Promise<Task | undefined> {
  const tasks = await caller.medplum.searchResources('Task', { focus: `ServiceRequest/${caseId}`, status: 'on-hold', _count: '1' });
  return tasks.find((t) => t.businessStatus?.coding?.some((c) => c.code === 'awaiting-patient-photos'));
}

function bodySites(vs: ValueSet | undefined): Map<string, Coding> {
  const sites = new Map<string, Coding>();
  for (const include of vs?.compose?.include ?? []) {
    for (const c of include.concept ?? []) {
      sites.set(c.code, { system: include.system, code: c.code, display: c.display });
    }
  }
  return sites;
}

const urn = (): string => `urn:uuid:${randomUUID()}`;
