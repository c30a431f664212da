import sharp from 'sharp';

/**
 * Quality metrics of one photo, computed on the oriented pixels. What BAD/ATA teledermatology
 * guidance asks for (CLINICAL.md, "Photos"): enough resolution, in focus, correctly exposed, no
 * colour cast. The labels reuse ISIC's quality vocabulary where one exists (`blurry`, `color_tint`).
 */
export interface PhotoQuality {
  readonly width: number;
  readonly height: number;
  /** ≥ 800 × 600 in either orientation (profile invariant dbr-media-1). */
  readonly resolutionOk: boolean;
  /** Variance of the Laplacian of a grey copy downscaled to FOCUS_ANALYSIS_EDGE px (long edge). */
  readonly focusVariance: number;
  readonly blurry: boolean;
  /** Mean luma (Rec. 601), 0–255. */
  readonly meanLuminance: number;
  /** Fractions of pixels that are crushed (≤ 10) or clipped (≥ 245). */
  readonly darkFraction: number;
  readonly brightFraction: number;
  readonly exposure: 'ok' | 'under' | 'over';
  /** CIELAB a*, b* of the mean colour. */
  readonly meanA: number;
  readonly meanB: number;
  readonly colourCast: 'none' | 'green' | 'blue' | 'magenta' | 'yellow';
  /** One entry per problem found, with advice for the person taking the photo. */
  readonly issues: readonly QualityIssue[];
}

export interface QualityIssue {
  readonly code: 'low_resolution' | 'blurry' | 'underexposed' | 'overexposed' | 'color_tint';
  readonly message: string;
}

export const MIN_RESOLUTION = { long: 800, short: 600 } as const;
export const FOCUS_ANALYSIS_EDGE = 512;
/**
 * Below this Laplacian variance a photo is called blurry. No published threshold exists
 * (CLINICAL.md); this value is calibrated by test/images/photo-quality.test.ts on generated
 * skin-like textures (moles, hairs, a ruler, pore noise), sharp vs Gaussian-blurred pairs at several
 * sizes: sharp ones score ≥ 2× above it, blurred ones (σ ≥ 1 px at the analysis size, i.e. detail
 * finer than ~1/250 of the frame lost) below it. Real phone photos of smooth skin score lower than
 * these textures: revisit with labelled clinical photos before relying on it to refuse photos (we only warn).
 */
export const FOCUS_THRESHOLD = 40;
const DARK = 10;
const BRIGHT = 245;

/** `rgb`: raw 3-channel 8-bit pixels of the oriented image. */
export async function measurePhotoQuality(rgb: Buffer, width: number, height: number): Promise<PhotoQuality> {
  const raw = { raw: { width, height, channels: 3 as const } };
  const scale = Math.min(1, FOCUS_ANALYSIS_EDGE / Math.max(width, height));
  const small = await sharp(rgb, raw)
    .resize(Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale)), { kernel: 'linear' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const { data, info } = small;
  const grey = toGrey(data, info.width * info.height);
  const focusVariance = laplacianVariance(grey, info.width, info.height);
  const exposure = exposureOf(grey);
  const [meanA, meanB] = meanLab(data, info.width * info.height);
  const colourCast = castOf(meanA, meanB);
  const resolutionOk = Math.max(width, height) >= MIN_RESOLUTION.long && Math.min(width, height) >= MIN_RESOLUTION.short;
  const blurry = focusVariance < FOCUS_THRESHOLD;
  const quality = {
    width,
    height,
    resolutionOk,
    focusVariance: round(focusVariance),
    blurry,
    meanLuminance: round(exposure.mean),
    darkFraction: round(exposure.dark, 4),
    brightFraction: round(exposure.bright, 4),
    exposure: exposure.verdict,
    meanA: round(meanA),
    meanB: round(meanB),
    colourCast,
  };
  return { ...quality, issues: issuesOf(quality) };
}

function toGrey(rgb: Buffer, pixels: number): Float64Array {
  const grey = new Float64Array(pixels);
  for (let i = 0, j = 0; i < pixels; i++, j += 3) {
    grey[i] = 0.299 * rgb[j] + 0.587 * rgb[j + 1] + 0.114 * rgb[j + 2];
  }
  return grey;
}

/** Variance of the 4-neighbour Laplacian over interior pixels (Pech-Pacheco et al. 2000). */
export function laplacianVariance(grey: Float64Array, width: number, height: number): number {
  let sum = 0;
  let sumSq = 0;
  let n = 0;
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const i = y * width + x;
      const l = grey[i - 1] + grey[i + 1] + grey[i - width] + grey[i + width] - 4 * grey[i];
      sum += l;
      sumSq += l * l;
      n++;
    }
  }
  if (n === 0) {
    return 0;
  }
  const mean = sum / n;
  return sumSq / n - mean * mean;
}

function exposureOf(grey: Float64Array): { mean: number; dark: number; bright: number; verdict: PhotoQuality['exposure'] } {
  let sum = 0;
  let dark = 0;
  let bright = 0;
  for (let i = 0; i < grey.length; i++) {
    const v = grey[i];
    sum += v;
    if (v <= DARK) dark++;
    if (v >= BRIGHT) bright++;
  }
  const n = Math.max(1, grey.length);
  const mean = sum / n;
  const verdict = mean < 50 || dark / n > 0.4 ? 'under' : mean > 215 || bright / n > 0.25 ? 'over' : 'ok';
  return { mean, dark: dark / n, bright: bright / n, verdict };
}

/** Mean colour in CIELAB (D65), from the mean of linearised sRGB. */
function meanLab(rgb: Buffer, pixels: number): [number, number] {
  const lin = (c: number): number => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  const table = Array.from({ length: 256 }, (_, c) => lin(c));
  let r = 0;
  let g = 0;
  let b = 0;
  for (let j = 0; j < pixels * 3; j += 3) {
    r += table[rgb[j]];
    g += table[rgb[j + 1]];
    b += table[rgb[j + 2]];
  }
  const n = Math.max(1, pixels);
  [r, g, b] = [r / n, g / n, b / n];
  const x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
  const y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  const z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
  const f = (t: number): number => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116);
  return [500 * (f(x) - f(y)), 200 * (f(y) - f(z))];
}

/**
 * Skin of every Fitzpatrick type sits at positive a* (red) and b* (yellow), roughly a* 5–25,
 * b* 10–35. A mean colour that is green (a* < −4), blue (b* < −4), or far beyond skin's range
 * (a* > 40, b* > 55) means the light or a filter tinted the photo.
 */
function castOf(a: number, b: number): PhotoQuality['colourCast'] {
  if (a < -4) return 'green';
  if (b < -4) return 'blue';
  if (a > 40) return 'magenta';
  if (b > 55) return 'yellow';
  return 'none';
}

function issuesOf(q: Omit<PhotoQuality, 'issues'>): QualityIssue[] {
  const issues: QualityIssue[] = [];
  if (!q.resolutionOk) {
    issues.push({ code: 'low_resolution', message: `The photo is ${q.width} × ${q.height} pixels; at least 800 × 600 is needed. Use the phone's main camera without zoom or cropping.` });
  }
  if (q.blurry) {
    issues.push({ code: 'blurry', message: 'The photo looks out of focus. Hold the phone steady 20-30 cm from the skin, tap the spot to focus, and take it again.' });
  }
  if (q.exposure === 'under') {
    issues.push({ code: 'underexposed', message: 'The photo is too dark. Take it in daylight near a window, without flash.' });
  }
  if (q.exposure === 'over') {
    issues.push({ code: 'overexposed', message: 'The photo is too bright or shows glare. Move out of direct sunlight and turn off the flash.' });
  }
  if (q.colourCast !== 'none') {
    issues.push({ code: 'color_tint', message: `The photo has a ${q.colourCast} colour tint. Use daylight, no coloured lamps and no filters.` });
  }
  return issues;
}

function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
