import type { Coding, Questionnaire, QuestionnaireItem, QuestionnaireResponse, QuestionnaireResponseItem, QuestionnaireResponseItemAnswer } from '@medplum/fhirtypes';
import { CODE_SYSTEM_URLS } from '../cases/canonical-urls';
import { IntakeError } from './intake-error';
import type { StagedPhoto } from '../images/photo-thread';

export type PhotoView = 'overview' | 'close-up' | 'dermoscopic';

/** Bytes of one photo as received, before the pipeline. `ref` is how the response's attachment names it. */
export interface PhotoUpload {
  readonly ref: string;
  readonly filename: string;
  readonly bytes: Buffer;
  readonly deviceName?: string;
  readonly takenAt?: string;
  /** The pipeline, when it was started as soon as the file arrived (submit-multipart.ts). */
  readonly staged?: StagedPhoto;
}

/** Where a photo belongs: its attachment answer in a `photo-set`, and what that set says about it. */
export interface PlacedPhoto {
  readonly upload: PhotoUpload;
  readonly linkId: string;
  readonly view: PhotoView;
  readonly bodySite: Coding;
  readonly siteDescription?: string;
  readonly scaleReference: boolean;
  /** The answer to fill with the stored Binary once known. */
  readonly answer: QuestionnaireResponseItemAnswer;
}

const PHOTO_SET = 'photo-set';

/**
 * Pairs every photo attachment answer of the response (`valueAttachment.url` = the photo's ref:
 * `cid:<part name>` in multipart, the Binary's `urn:uuid` in a FHIR Bundle) with its upload, and
 * reads view (from the Questionnaire item's derm-photo-view code — the same linkIds in intake and
 * e-consult), body site, site description and scale reference from its `photo-set`.
 */
export function placePhotos(questionnaire: Questionnaire, response: QuestionnaireResponse, uploads: readonly PhotoUpload[]): PlacedPhoto[] {
  const byRef = new Map(uploads.map((u) => [u.ref, u]));
  const views = photoViews(questionnaire);
  const placed: PlacedPhoto[] = [];
  const problems: { where: string; message: string }[] = [];
  for (const set of findItems(response.item ?? [], PHOTO_SET)) {
    const children = set.item ?? [];
    const bodySite = answerOf(children, 'photo-body-site')?.valueCoding;
    const siteDescription = answerOf(children, 'photo-site-description')?.valueString;
    const scale = answerOf(children, 'photo-scale-reference')?.valueBoolean ?? false;
    for (const child of children) {
      const view = views.get(child.linkId);
      if (!view) continue;
      for (const answer of child.answer ?? []) {
        const ref = answer.valueAttachment?.url;
        const upload = ref ? byRef.get(ref) : undefined;
        if (!upload) {
          problems.push({ where: child.linkId, message: ref ? `The answer refers to '${ref}', but no photo with that name was sent.` : 'The attachment answer has no url naming its photo.' });
          continue;
        }
        if (!bodySite) {
          problems.push({ where: 'photo-body-site', message: 'Choose the body site shown in this set of photos.' });
          continue;
        }
        placed.push({ upload, linkId: child.linkId, view, bodySite, siteDescription, scaleReference: view !== 'overview' && scale, answer });
      }
    }
  }
  const used = new Set(placed.map((p) => p.upload.ref));
  for (const upload of uploads) {
    if (!used.has(upload.ref)) {
      problems.push({ where: upload.ref, message: `The photo '${upload.filename}' is not referred to by any photo answer (photo-overview, photo-close-up or photo-dermoscopic) of the response.` });
    }
  }
  if (problems.length > 0) {
    throw new IntakeError(422, 'photo-answer-mismatch', `The photos sent and the response's photo answers do not match: ${problems[0].message}`, problems);
  }
  return placed;
}

function photoViews(questionnaire: Questionnaire): Map<string, PhotoView> {
  const views = new Map<string, PhotoView>();
  const visit = (items: readonly QuestionnaireItem[]): void => {
    for (const item of items) {
      const code = item.code?.find((c) => c.system === CODE_SYSTEM_URLS.photoView)?.code;
      if (item.type === 'attachment' && code) {
        views.set(item.linkId, code as PhotoView);
      }
      visit(item.item ?? []);
    }
  };
  visit(questionnaire.item ?? []);
  return views;
}

export function findItems(items: readonly QuestionnaireResponseItem[], linkId: string): QuestionnaireResponseItem[] {
  return items.flatMap((item) => [...(item.linkId === linkId ? [item] : []), ...findItems(item.item ?? [], linkId), ...(item.answer ?? []).flatMap((a) => findItems(a.item ?? [], linkId))]);
}

export function answerOf(items: readonly QuestionnaireResponseItem[], linkId: string): QuestionnaireResponseItemAnswer | undefined {
  return findItems(items, linkId)[0]?.answer?.[0];
}
