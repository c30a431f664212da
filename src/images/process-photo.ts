import sharp from 'sharp';
import { detectImageKind } from './image-type';
import { PhotoError } from './photo-error';
import { measurePhotoQuality, type PhotoQuality } from './photo-quality';

export interface PhotoLimits {
  /** Largest upload accepted, in bytes. The Questionnaires' attachment maxSize is 20 MiB. */
  readonly maxBytes: number;
  /** Largest decoded image, in pixels: refuses decompression bombs before any pixel is decoded. */
  readonly maxPixels: number;
}

/** 20 MiB (the Questionnaires' maxSize) and 50 MP (every phone's default mode; a 12 MP photo is 12e6). */
export const DEFAULT_PHOTO_LIMITS: PhotoLimits = { maxBytes: 20 * 1024 * 1024, maxPixels: 50_000_000 };

export const REVIEW_LONG_EDGE = 2048;
export const THUMBNAIL_LONG_EDGE = 256;

export interface EncodedImage {
  readonly bytes: Buffer;
  readonly contentType: 'image/jpeg' | 'image/png';
  readonly width: number;
  readonly height: number;
}

/** Everything stored for one photo: three images without any metadata, and its quality. */
export interface ProcessedPhoto {
  /** Full resolution, oriented upright. PNG stays PNG (lossless); JPEG and WebP become JPEG. */
  readonly original: EncodedImage;
  /** Long edge at most REVIEW_LONG_EDGE, for the review UI. */
  readonly review: EncodedImage;
  readonly thumbnail: EncodedImage;
  readonly quality: PhotoQuality;
  readonly sourceType: 'jpeg' | 'png' | 'webp';
}

const HEIC_ADVICE =
  'iPhone HEIC photos are not accepted. On the iPhone choose Settings > Camera > Formats > "Most Compatible" and take the photo again, or share the photo by e-mail/"Save to Files" as JPEG, then upload the JPEG.';

/**
 * The photo pipeline: real type by content, byte and pixel caps, full decode (a truncated file
 * fails here, not in the reviewer's browser), EXIF orientation applied, then re-encoded from raw
 * pixels: sharp writes no metadata unless asked (`keepMetadata`/`withMetadata` is never called),
 * so EXIF, GPS, XMP, IPTC, maker notes and ICC profiles are all gone from what is stored.
 * Decoding once into raw pixels and encoding three outputs from them keeps the cost at one decode.
 */
export async function processPhoto(input: Buffer, limits: PhotoLimits = DEFAULT_PHOTO_LIMITS, progress: PhotoProgress = {}): Promise<ProcessedPhoto> {
  const sourceType = checkInput(input, limits);
  const decoded = await decode(input, limits);
  progress.decoded?.();
  const { data, info } = decoded;
  const raw = { raw: { width: info.width, height: info.height, channels: 3 as const } };
  const fromRaw = () => sharp(data, raw);
  const reported = (kind: ImageKind) => (image: EncodedImage): EncodedImage => {
    progress.encoded?.(kind, image);
    return image;
  };
  const [original, review, thumbnail, quality] = await Promise.all([
    encode(fromRaw(), sourceType === 'png' ? 'png' : 'jpeg', 92).then(reported('original')),
    encode(fromRaw().resize(REVIEW_LONG_EDGE, REVIEW_LONG_EDGE, { fit: 'inside', withoutEnlargement: true }), 'jpeg', 85).then(reported('review')),
    encode(fromRaw().resize(THUMBNAIL_LONG_EDGE, THUMBNAIL_LONG_EDGE, { fit: 'inside', withoutEnlargement: true }), 'jpeg', 80).then(reported('thumbnail')),
    measurePhotoQuality(data, info.width, info.height),
  ]);
  return { original, review, thumbnail, quality, sourceType };
}

export type ImageKind = 'original' | 'review' | 'thumbnail';

/**
 * What a caller may start before the whole photo is done: once it has `decoded`, the photo is
 * valid input (type, caps, a complete strict decode), and each image can be stored as soon as it
 * is `encoded` (src/intake/submit-case.ts overlaps its writes with the rest of the encoding).
 */
export interface PhotoProgress {
  readonly decoded?: () => void;
  readonly encoded?: (kind: ImageKind, image: EncodedImage) => void;
}

/** Only the checks that need no decoding: for instant feedback and to refuse early. */
export function checkInput(input: Buffer, limits: PhotoLimits): 'jpeg' | 'png' | 'webp' {
  if (input.length === 0) {
    throw new PhotoError('photo-empty', 'The photo file is empty (0 bytes). Choose the photo again.', 400);
  }
  if (input.length > limits.maxBytes) {
    throw new PhotoError('photo-too-large', `The photo is ${mib(input.length)}; the limit is ${mib(limits.maxBytes)}. Send the photo as taken by the phone camera, not an edited or exported high-resolution copy.`, 413);
  }
  const kind = detectImageKind(input);
  if (kind === 'heic') {
    throw new PhotoError('photo-heic-not-supported', HEIC_ADVICE, 415);
  }
  if (kind !== 'jpeg' && kind !== 'png' && kind !== 'webp') {
    throw new PhotoError('photo-unsupported-type', `This file is not a JPEG, PNG or WebP image (its content is ${kind === 'avif' ? 'AVIF' : 'not a recognised image'}). Send a JPEG or PNG photo.`, 415);
  }
  return kind;
}

async function decode(input: Buffer, limits: PhotoLimits): Promise<{ data: Buffer; info: sharp.OutputInfo }> {
  // Header first: refuse a decompression bomb by its declared size before allocating pixels.
  let width = 0;
  let height = 0;
  try {
    const meta = await sharp(input, { limitInputPixels: false }).metadata();
    width = meta.width ?? 0;
    height = meta.height ?? 0;
  } catch {
    throw corrupt();
  }
  if (width * height > limits.maxPixels) {
    throw new PhotoError('photo-too-many-pixels', `The image is ${width} × ${height} pixels (${(width * height / 1e6).toFixed(0)} MP); the limit is ${(limits.maxPixels / 1e6).toFixed(0)} MP. Send the photo as taken by a phone camera.`, 413);
  }
  try {
    // failOn 'warning' (strictest): a truncated or damaged file is refused, not half-decoded.
    return await sharp(input, { limitInputPixels: limits.maxPixels, failOn: 'warning', sequentialRead: true })
      .rotate()
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch {
    throw corrupt();
  }
}

async function encode(pipeline: sharp.Sharp, format: 'jpeg' | 'png', quality: number): Promise<EncodedImage> {
  const out = format === 'png' ? pipeline.png({ compressionLevel: 6 }) : pipeline.jpeg({ quality, mozjpeg: false, chromaSubsampling: '4:2:0' });
  const { data, info } = await out.toBuffer({ resolveWithObject: true });
  return { bytes: data, contentType: format === 'png' ? 'image/png' : 'image/jpeg', width: info.width, height: info.height };
}

function corrupt(): PhotoError {
  return new PhotoError('photo-corrupt', 'The photo file is damaged or incomplete (for example, the upload was cut off). Choose the photo again and resend it.', 422);
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Type, size and quality without encoding anything: the instant check the intake page calls per photo. */
export async function inspectPhoto(input: Buffer, limits: PhotoLimits = DEFAULT_PHOTO_LIMITS): Promise<{ sourceType: 'jpeg' | 'png' | 'webp'; quality: PhotoQuality }> {
  const sourceType = checkInput(input, limits);
  const { data, info } = await decode(input, limits);
  return { sourceType, quality: await measurePhotoQuality(data, info.width, info.height) };
}
