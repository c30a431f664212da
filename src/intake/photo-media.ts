import type { Attachment, Extension, Media, Reference } from '@medplum/fhirtypes';
import { CODE_SYSTEM_URLS, PROFILE_URLS, STRUCTURE_DEFINITION_BASE } from '../cases/canonical-urls';
import type { EncodedImage, ProcessedPhoto } from '../images/process-photo';
import { FOCUS_THRESHOLD, type PhotoQuality } from '../images/photo-quality';
import type { PlacedPhoto } from './photo-placement';

/**
 * Quality metrics on the photo's Media, where triage and the reviewer read them without another
 * query. Complex extensions (open slicing of Media.extension in derm-photo-media); their
 * StructureDefinitions are still to be added to fhir-profiles/ (not owned by the intake).
 */
export const PHOTO_QUALITY_URL = `${STRUCTURE_DEFINITION_BASE}/photo-quality`;
/** The review-size image and the thumbnail: Binaries beside the full-resolution `content`. */
export const PHOTO_DERIVATIVE_URL = `${STRUCTURE_DEFINITION_BASE}/photo-derivative`;

const VIEW_DISPLAY = { overview: 'Overview (locator)', 'close-up': 'Close-up', dermoscopic: 'Dermoscopic' } as const;

/** `Binary/<id>` of each image of a photo (uploaded before the transaction, photo-binaries.ts). */
export interface PhotoBinaries {
  readonly original: string;
  readonly review: string;
  readonly thumbnail: string;
}

export function photoMedia(args: {
  placed: PlacedPhoto;
  photo: ProcessedPhoto;
  binaries: PhotoBinaries;
  patient: Ref;
  caseRef: Ref;
  identifier: { system: string; value: string };
  receivedAt: string;
}): Media {
  const { placed, photo, binaries, patient, caseRef } = args;
  return {
    resourceType: 'Media',
    meta: { profile: [PROFILE_URLS.photoMedia] },
    identifier: [args.identifier],
    extension: [
      { url: PROFILE_URLS.scaleReferencePresent, valueBoolean: placed.scaleReference },
      qualityExtension(photo.quality),
      derivativeExtension('review', photo.review, binaries.review),
      derivativeExtension('thumbnail', photo.thumbnail, binaries.thumbnail),
    ],
    basedOn: [caseRef],
    status: 'completed',
    type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/media-type', code: 'image', display: 'Image' }] },
    modality: {
      coding: [
        placed.view === 'dermoscopic'
          ? { system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'DMS', display: 'Dermoscopy' }
          : { system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'XC', display: 'External-camera Photography' },
      ],
    },
    view: { coding: [{ system: CODE_SYSTEM_URLS.photoView, code: placed.view, display: VIEW_DISPLAY[placed.view] }] },
    subject: patient,
    createdDateTime: placed.upload.takenAt ?? args.receivedAt,
    bodySite: { coding: [placed.bodySite], text: placed.siteDescription },
    deviceName: placed.upload.deviceName ?? 'Not stated (uploaded through dermbridge intake)',
    width: photo.original.width,
    height: photo.original.height,
    content: { contentType: photo.original.contentType, url: binaries.original, size: photo.original.bytes.length, title: placed.upload.filename },
    note: [{ text: qualitySummary(photo.quality) }],
  };
}

function qualityExtension(q: PhotoQuality): Extension {
  return {
    url: PHOTO_QUALITY_URL,
    extension: [
      { url: 'resolutionOk', valueBoolean: q.resolutionOk },
      { url: 'focusVariance', valueDecimal: q.focusVariance },
      { url: 'focusThreshold', valueDecimal: FOCUS_THRESHOLD },
      { url: 'blurry', valueBoolean: q.blurry },
      { url: 'meanLuminance', valueDecimal: q.meanLuminance },
      { url: 'exposure', valueCode: q.exposure },
      { url: 'colourCast', valueCode: q.colourCast },
      ...q.issues.map((i) => ({ url: 'issue', valueCode: i.code })),
    ],
  };
}

function derivativeExtension(purpose: 'review' | 'thumbnail', image: EncodedImage, url: string): Extension {
  const attachment: Attachment = { contentType: image.contentType, url, size: image.bytes.length, title: `${purpose} ${image.width}x${image.height}` };
  return { url: PHOTO_DERIVATIVE_URL, extension: [{ url: 'purpose', valueCode: purpose }, { url: 'image', valueAttachment: attachment }] };
}

/** One line a reviewer can read in any FHIR viewer. */
export function qualitySummary(q: PhotoQuality): string {
  const problems = q.issues.map((i) => i.code).join(', ') || 'none';
  return `Photo quality (dermbridge intake): ${q.width}x${q.height}; focus ${q.focusVariance} (blurry below ${FOCUS_THRESHOLD}); exposure ${q.exposure} (mean ${q.meanLuminance}); colour cast ${q.colourCast}; issues: ${problems}.`;
}

/** Reads the quality extension back (for the case status). */
export function readQuality(media: Media): Record<string, unknown> | undefined {
  const ext = media.extension?.find((e) => e.url === PHOTO_QUALITY_URL);
  if (!ext) return undefined;
  const out: Record<string, unknown> = { issues: [] as string[] };
  for (const sub of ext.extension ?? []) {
    const value = sub.valueBoolean ?? sub.valueDecimal ?? sub.valueCode;
    if (sub.url === 'issue') (out.issues as string[]).push(String(value));
    else out[sub.url] = value;
  }
  return out;
}

export function readDerivative(media: Media, purpose: 'review' | 'thumbnail'): string | undefined {
  const ext = media.extension?.find((e) => e.url === PHOTO_DERIVATIVE_URL && e.extension?.some((s) => s.url === 'purpose' && s.valueCode === purpose));
  return ext?.extension?.find((s) => s.url === 'image')?.valueAttachment?.url;
}

/** A reference to any resource: subject, requester and basedOn targets are checked by the store's validator. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Ref = Reference<any>;
