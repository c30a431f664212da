import sharp from 'sharp';
import zlib from 'node:zlib';
import { seededRandom } from '../support/seeded-random';

/**
 * Generated test photos: a skin-toned field with moles, hairs, a ruler with tick marks and fine
 * pore-like noise — enough real edges that focus and exposure metrics behave as on a photo,
 * deterministic for a given seed.
 */
export interface SkinPhotoOptions {
  readonly width?: number;
  readonly height?: number;
  readonly seed?: number;
  /** Gaussian blur sigma in *full-resolution* pixels (0 = sharp). */
  readonly blurSigma?: number;
  /** Multiplies every channel (exposure), default 1. */
  readonly brightness?: number;
  /** Added per channel [r, g, b] (colour cast), default none. */
  readonly tint?: readonly [number, number, number];
  readonly format?: 'jpeg' | 'png' | 'webp';
}

export async function skinPhoto(options: SkinPhotoOptions = {}): Promise<Buffer> {
  const { width = 1024, height = 768, seed = 1, blurSigma = 0, brightness = 1, tint = [0, 0, 0], format = 'jpeg' } = options;
  let pipeline = sharp(await skinRaw(width, height, seed), { raw: { width, height, channels: 3 } });
  if (blurSigma > 0) {
    pipeline = sharp(await pipeline.blur(blurSigma).raw().toBuffer(), { raw: { width, height, channels: 3 } });
  }
  if (brightness !== 1 || tint.some((t) => t !== 0)) {
    pipeline = pipeline.linear([brightness, brightness, brightness], [...tint]);
  }
  return format === 'png' ? pipeline.png().toBuffer() : format === 'webp' ? pipeline.webp().toBuffer() : pipeline.jpeg({ quality: 90 }).toBuffer();
}

async function skinRaw(width: number, height: number, seed: number): Promise<Buffer> {
  const rand = seededRandom(seed);
  const shapes: string[] = [];
  const u = Math.min(width, height) / 100;
  for (let i = 0; i < 6; i++) {
    shapes.push(`<ellipse cx="${rand() * width}" cy="${rand() * height}" rx="${(1 + rand() * 3) * u}" ry="${(1 + rand() * 3) * u}" fill="rgb(${90 + rand() * 40},${50 + rand() * 30},${30 + rand() * 20})"/>`);
  }
  for (let i = 0; i < 40; i++) {
    const x = rand() * width;
    const y = rand() * height;
    shapes.push(`<path d="M${x} ${y} q ${rand() * 8 * u} ${rand() * 8 * u} ${(rand() - 0.5) * 16 * u} ${(rand() - 0.5) * 16 * u}" stroke="rgb(70,45,35)" stroke-width="${0.15 * u}" fill="none"/>`);
  }
  const rulerY = height * 0.85;
  shapes.push(`<rect x="${width * 0.1}" y="${rulerY}" width="${width * 0.8}" height="${6 * u}" fill="rgb(235,235,225)"/>`);
  for (let i = 0; i <= 80; i++) {
    const x = width * 0.1 + (i * width * 0.8) / 80;
    shapes.push(`<line x1="${x}" y1="${rulerY}" x2="${x}" y2="${rulerY + (i % 10 === 0 ? 4 : 2) * u}" stroke="black" stroke-width="${0.12 * u}"/>`);
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="rgb(214,165,140)"/>${shapes.join('')}</svg>`;
  const base = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer();
  for (let i = 0; i < base.length; i++) {
    base[i] = Math.max(0, Math.min(255, base[i] + (rand() - 0.5) * 14));
  }
  return base;
}


/** A JPEG carrying camera make, a description and GPS coordinates in EXIF (as phones write them). */
export async function jpegWithGps(options: SkinPhotoOptions = {}): Promise<Buffer> {
  const plain = await skinPhoto(options);
  return sharp(plain)
    .withExif({
      IFD0: { Make: 'LeakyPhoneCo', Model: 'GPS-Cam 9', ImageDescription: 'SECRET-HOME-ADDRESS' },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 2643/100', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 3953/100' },
    })
    .withMetadata({ orientation: 6 })
    .jpeg({ quality: 90 })
    .toBuffer();
}

/** JPEG segment markers before the scan (APP1 = EXIF/XMP, APP2 = ICC, APP13 = IPTC). */
export function jpegMarkers(bytes: Buffer): number[] {
  const markers: number[] = [];
  let i = 2;
  while (i + 4 <= bytes.length && bytes[i] === 0xff) {
    const marker = bytes[i + 1];
    markers.push(marker);
    if (marker === 0xda) {
      break;
    }
    i += 2 + bytes.readUInt16BE(i + 2);
  }
  return markers;
}

/**
 * A PNG that declares 30000 × 30000 pixels (900 MP) but is about 100 kB on disk: a decompression
 * bomb. Written by hand (1-bit greyscale, all zero rows) so making it costs no 900 MP encode.
 */
export function hugeDimensionPng(size = 30000): Buffer {
  const rowBytes = 1 + Math.ceil(size / 8);
  const row = Buffer.alloc(rowBytes);
  const deflate = zlib.deflateSync(Buffer.concat(Array.from({ length: size }, () => row)), { level: 9 });
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // greyscale
  return Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), pngChunk('IHDR', ihdr), pngChunk('IDAT', deflate), pngChunk('IEND', Buffer.alloc(0))]);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(Buffer.concat([Buffer.from(type, 'latin1'), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}
