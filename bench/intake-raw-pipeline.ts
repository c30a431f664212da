import sharp from 'sharp';
import { measurePhotoQuality } from '../src/images/photo-quality';

/**
 * The baseline of the intake benchmark: the sharp work one photo needs, written directly against
 * sharp with nothing around it (no type sniffing, no error mapping, no FHIR). The same steps and
 * output settings as the server's pipeline (src/images/process-photo.ts):
 *
 * 1. header read (the pixel cap is checked before decoding);
 * 2. one full decode, strict (`failOn: 'warning'`), auto-oriented (EXIF Orientation), to raw sRGB;
 * 3. from those pixels, at the same time: the stored original re-encoded without metadata (JPEG
 *    q92), the review copy (long edge 2048, q85), the thumbnail (256, q80) and the quality metrics
 *    (a 512 px analysis copy and the arithmetic on it, `measurePhotoQuality` itself: the metrics
 *    are part of the work, not overhead).
 *
 * The three photos of a case run at the same time (`Promise.all`), as the server runs them.
 */
export async function rawPipeline(input: Buffer): Promise<number> {
  const { width = 0, height = 0 } = await sharp(input).metadata();
  if (width * height > 50_000_000) {
    throw new Error('over the pixel cap');
  }
  const { data, info } = await sharp(input, { failOn: 'warning', limitInputPixels: 50_000_000, sequentialRead: true })
    .rotate()
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  const raw = { raw: { width: info.width, height: info.height, channels: 3 as const } };
  const jpeg = (pipeline: sharp.Sharp, quality: number): Promise<Buffer> => pipeline.jpeg({ quality, chromaSubsampling: '4:2:0' }).toBuffer();
  const [original] = await Promise.all([
    jpeg(sharp(data, raw), 92),
    jpeg(sharp(data, raw).resize(2048, 2048, { fit: 'inside', withoutEnlargement: true }), 85),
    jpeg(sharp(data, raw).resize(256, 256, { fit: 'inside', withoutEnlargement: true }), 80),
    measurePhotoQuality(data, info.width, info.height),
  ]);
  return original.length;
}

/** One case's photos through the baseline: milliseconds. */
export async function timeRawPipeline(photos: readonly Buffer[]): Promise<number> {
  // Fresh buffers, as the server gets from each upload: libvips' operation cache never sees the same input twice.
  const inputs = photos.map((p) => Buffer.from(p));
  const t0 = performance.now();
  await Promise.all(inputs.map((p) => rawPipeline(p)));
  return performance.now() - t0;
}
