import type { Media } from '@medplum/fhirtypes';

/**
 * Photo standards of CLINICAL.md ("Photos": BAD / ATA teledermatology guidance) as data, and the
 * check a case's photos must pass before review. Per-photo metrics come from the intake pipeline's
 * `photo-quality` extension on Media (src/intake/photo-media.ts: sub-extensions `issue` with ISIC-style
 * codes) and from Media.width/height.
 */
export const PHOTO_STANDARDS = {
  source: 'CLINICAL.md Photos (BAD/ATA teledermatology photo guidance; ISIC quality labels)',
  /** At least 3 images per body site: a locator overview and close-ups (or a dermoscopic image). */
  minPhotosPerSite: 3,
  minResolution: { long: 800, short: 600 },
} as const;

export const PHOTO_QUALITY_EXTENSION = 'https://dermbridge.example.org/fhir/StructureDefinition/photo-quality';

export type PhotoProblemCode = 'too_few_photos' | 'no_overview' | 'no_close_up' | 'low_resolution' | 'blurry' | 'underexposed' | 'overexposed' | 'color_tint';

/** How to retake, in words a patient can act on. */
export const RETAKE_ADVICE: Readonly<Record<PhotoProblemCode, string>> = {
  too_few_photos: 'Send at least 3 photos of this area: one overview from 1-1.5 m and two close-ups from 20-30 cm.',
  no_overview: 'Add an overview photo taken from 1-1.5 m away that shows where on your body the spot is.',
  no_close_up: 'Add a close-up photo from 20-30 cm, in focus, with a ruler or coin beside (not over) the spot.',
  low_resolution: 'Take it again with the phone camera app at full size (at least 800 x 600 pixels); do not send a screenshot or a cropped or compressed copy.',
  blurry: 'Take it again in focus: hold the phone steady, tap the spot on the screen to focus, and keep the camera square to the skin.',
  underexposed: 'Take it again in brighter light: diffuse daylight near a window works best; avoid shadows.',
  overexposed: 'Take it again without the flash and out of direct sunlight, so the skin is not washed out.',
  color_tint: 'Take it again in daylight without filters or coloured lamps, so the skin colour is true.',
};

export interface PhotoProblem {
  readonly code: PhotoProblemCode;
  /** The body site (SNOMED CT text or code) the problem concerns. */
  readonly site: string;
  /** The photo to retake; absent for a missing photo. */
  readonly media?: string;
  readonly photo?: string;
  readonly advice: string;
}

const PER_PHOTO_ISSUES: readonly PhotoProblemCode[] = ['low_resolution', 'blurry', 'underexposed', 'overexposed', 'color_tint'];

/** Every way the case's photos fall short of the standards; empty when they pass. */
export function checkPhotos(media: readonly Media[]): PhotoProblem[] {
  const problems: PhotoProblem[] = [];
  const bySite = new Map<string, Media[]>();
  for (const m of media) {
    const site = siteOf(m);
    bySite.set(site, [...(bySite.get(site) ?? []), m]);
  }
  for (const [site, photos] of bySite) {
    const views = photos.map(viewOf);
    if (photos.length < PHOTO_STANDARDS.minPhotosPerSite) {
      problems.push({ code: 'too_few_photos', site, advice: RETAKE_ADVICE.too_few_photos });
    }
    if (!views.includes('overview')) {
      problems.push({ code: 'no_overview', site, advice: RETAKE_ADVICE.no_overview });
    }
    if (!views.includes('close-up')) {
      problems.push({ code: 'no_close_up', site, advice: RETAKE_ADVICE.no_close_up });
    }
    for (const photo of photos) {
      if (retakenSince(photo, photos)) {
        continue;
      }
      for (const code of issuesOf(photo)) {
        problems.push({ code, site, media: `Media/${photo.id}`, photo: describe(photo), advice: RETAKE_ADVICE[code] });
      }
    }
  }
  return problems;
}

/**
 * A photo is superseded once a later photo of the same site and view passes: retaken photos are
 * added to the case (src/intake/add-photos.ts), the failed one stays on record.
 */
function retakenSince(photo: Media, photos: readonly Media[]): boolean {
  const at = receivedAt(photo);
  return photos.some((other) => other !== photo && viewOf(other) === viewOf(photo) && receivedAt(other) > at && issuesOf(other).length === 0);
}

function receivedAt(m: Media): string {
  return m.issued ?? m.meta?.lastUpdated ?? m.createdDateTime ?? '';
}

function issuesOf(photo: Media): PhotoProblemCode[] {
  const codes = new Set<PhotoProblemCode>();
  const quality = photo.extension?.find((e) => e.url === PHOTO_QUALITY_EXTENSION);
  for (const sub of quality?.extension ?? []) {
    if (sub.url === 'issue' && PER_PHOTO_ISSUES.includes(sub.valueCode as PhotoProblemCode)) {
      codes.add(sub.valueCode as PhotoProblemCode);
    }
  }
  const { width, height } = photo;
  if (width !== undefined && height !== undefined) {
    const long = Math.max(width, height);
    const short = Math.min(width, height);
    if (long < PHOTO_STANDARDS.minResolution.long || short < PHOTO_STANDARDS.minResolution.short) {
      codes.add('low_resolution');
    }
  }
  return PER_PHOTO_ISSUES.filter((c) => codes.has(c));
}

function siteOf(m: Media): string {
  return m.bodySite?.text ?? m.bodySite?.coding?.[0]?.display ?? m.bodySite?.coding?.[0]?.code ?? 'unspecified site';
}

function viewOf(m: Media): string | undefined {
  return m.view?.coding?.[0]?.code;
}

function describe(m: Media): string {
  const view = viewOf(m) ?? 'photo';
  const title = m.content?.title ? ` "${m.content.title}"` : '';
  return `the ${view} photo${title} of ${siteOf(m)}`;
}

/** The patient-facing message: which photo to retake and how, one paragraph per problem. */
export function retakeMessage(problems: readonly PhotoProblem[]): string {
  const lines = problems.map((p) => (p.photo ? `- Retake ${p.photo}: ${p.advice}` : `- ${p.site}: ${p.advice}`));
  return `The dermatologist needs better photos before reviewing your case.\n${lines.join('\n')}\nUpload the new photos in the app; your case continues as soon as they arrive.`;
}
