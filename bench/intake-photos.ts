import sharp from 'sharp';
import { seededRandom } from '../test/support/seeded-random';

/**
 * Phone-like 12 MP JPEGs for the intake benchmark: what a patient's phone uploads, not a synthetic
 * flat image that compresses to nothing. 4032 × 3024 (the 12 MP sensor of most phones), skin with
 * uneven lighting, blotches, moles, hairs and a ruler, pore texture and sensor grain, encoded at
 * quality 94 with 4:2:0 chroma as phone cameras do (3–6 MB), with EXIF a phone writes: make,
 * model, date, Orientation and GPS. Deterministic for a seed.
 */
export interface PhonePhoto {
  readonly bytes: Buffer;
  readonly width: number;
  readonly height: number;
  readonly orientation: number;
}

export const PHONE_WIDTH = 4032;
export const PHONE_HEIGHT = 3024;

/** `orientation` 6 = held upright (portrait), stored landscape: the server must rotate it. */
export async function phonePhoto(seed: number, orientation: 1 | 6 = 1): Promise<PhonePhoto> {
  const width = PHONE_WIDTH;
  const height = PHONE_HEIGHT;
  const rand = seededRandom(seed);
  const scene = await sharp(Buffer.from(sceneSvg(width, height, rand))).removeAlpha().raw().toBuffer();
  const pores = await poreTexture(width, height, rand);
  addTextureAndGrain(scene, pores, rand);
  const bytes = await sharp(scene, { raw: { width, height, channels: 3 } })
    .withExif({
      IFD0: { Make: 'BenchPhone', Model: 'BP-12 Pro', Software: 'BenchOS 17.2', DateTime: '2026:11:20 09:41:07' },
      IFD2: { DateTimeOriginal: '2026:11:20 09:41:07', FNumber: '18/10', ExposureTime: '1/120', ISOSpeedRatings: '64' },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 2643/100', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 3953/100', GPSAltitude: '35/1' },
    })
    .withMetadata({ orientation })
    .jpeg({ quality: 94, chromaSubsampling: '4:2:0' })
    .toBuffer();
  return { bytes, width, height, orientation };
}

function sceneSvg(width: number, height: number, rand: () => number): string {
  const u = Math.min(width, height) / 100;
  const shapes: string[] = [];
  // Uneven light across the frame and a few darker/redder blotches with soft edges, as on real
  // skin (radial gradients, not an SVG blur filter: librsvg blurs a 12 MP canvas slowly).
  const defs = ['<radialGradient id="light" cx="' + (30 + rand() * 40) + '%" cy="' + (30 + rand() * 40) + '%" r="80%"><stop offset="0" stop-color="rgb(226,178,152)"/><stop offset="1" stop-color="rgb(170,120,96)"/></radialGradient>'];
  const blotches: string[] = [];
  for (let i = 0; i < 12; i++) {
    defs.push(`<radialGradient id="b${i}"><stop offset="0" stop-color="rgb(${170 + rand() * 40},${100 + rand() * 30},${85 + rand() * 25})" stop-opacity="0.5"/><stop offset="1" stop-color="rgb(190,120,100)" stop-opacity="0"/></radialGradient>`);
    blotches.push(`<ellipse cx="${rand() * width}" cy="${rand() * height}" rx="${(6 + rand() * 14) * u}" ry="${(6 + rand() * 14) * u}" fill="url(#b${i})"/>`);
  }
  shapes.push(`<defs>${defs.join('')}</defs>`, '<rect width="100%" height="100%" fill="url(#light)"/>', ...blotches);
  for (let i = 0; i < 10; i++) {
    shapes.push(`<ellipse cx="${rand() * width}" cy="${rand() * height}" rx="${(0.5 + rand() * 2.5) * u}" ry="${(0.5 + rand() * 2.5) * u}" fill="rgb(${80 + rand() * 40},${45 + rand() * 30},${30 + rand() * 20})"/>`);
  }
  for (let i = 0; i < 160; i++) {
    const x = rand() * width;
    const y = rand() * height;
    shapes.push(`<path d="M${x} ${y} q ${rand() * 6 * u} ${rand() * 6 * u} ${(rand() - 0.5) * 12 * u} ${(rand() - 0.5) * 12 * u}" stroke="rgb(${60 + rand() * 30},40,30)" stroke-width="${0.08 * u + rand() * 0.1 * u}" fill="none"/>`);
  }
  const rulerY = height * 0.86;
  shapes.push(`<rect x="${width * 0.1}" y="${rulerY}" width="${width * 0.8}" height="${6 * u}" fill="rgb(235,235,225)"/>`);
  for (let i = 0; i <= 100; i++) {
    const x = width * 0.1 + (i * width * 0.8) / 100;
    shapes.push(`<line x1="${x}" y1="${rulerY}" x2="${x}" y2="${rulerY + (i % 10 === 0 ? 4 : 2) * u}" stroke="black" stroke-width="${0.1 * u}"/>`);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${shapes.join('')}</svg>`;
}

/** Pores and skin lines: noise at a third of the resolution, upscaled smoothly (mid frequencies). */
async function poreTexture(width: number, height: number, rand: () => number): Promise<Buffer> {
  const w = Math.ceil(width / 3);
  const h = Math.ceil(height / 3);
  const small = Buffer.alloc(w * h);
  for (let i = 0; i < small.length; i++) {
    small[i] = 128 + Math.round((rand() - 0.5) * 90);
  }
  return sharp(small, { raw: { width: w, height: h, channels: 1 } }).resize(width, height, { kernel: 'cubic' }).raw().toBuffer();
}

/** Pore texture (luma) plus per-pixel sensor grain (a little chroma), clamped in place. */
function addTextureAndGrain(rgb: Buffer, pores: Buffer, rand: () => number): void {
  for (let p = 0, j = 0; p < pores.length; p++, j += 3) {
    const t = (pores[p] - 128) * 0.35;
    const grain = (rand() - 0.5) * 10;
    rgb[j] = clamp(rgb[j] + t + grain + (rand() - 0.5) * 4);
    rgb[j + 1] = clamp(rgb[j + 1] + t + grain + (rand() - 0.5) * 4);
    rgb[j + 2] = clamp(rgb[j + 2] + t + grain + (rand() - 0.5) * 4);
  }
}

function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}
