/**
 * The real type of an upload, from its first bytes (never from the file name or the declared
 * Content-Type, which clients get wrong and attackers choose).
 * Signatures: JPEG (ISO/IEC 10918-1 SOI FF D8 FF), PNG (RFC 2083 §3.1), WebP (RIFF....WEBP),
 * ISO BMFF `ftyp` brands for HEIC/HEIF (iPhone) and AVIF (ISO/IEC 23008-12).
 */
export type ImageKind = 'jpeg' | 'png' | 'webp' | 'heic' | 'avif' | 'unknown';

const HEIC_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'mif1', 'msf1']);
const AVIF_BRANDS = new Set(['avif', 'avis']);

export function detectImageKind(bytes: Uint8Array): ImageKind {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    return 'jpeg';
  }
  if (bytes.length >= 8 && ascii(bytes, 0, 8) === '\x89PNG\r\n\x1a\n') {
    return 'png';
  }
  if (bytes.length >= 12 && ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP') {
    return 'webp';
  }
  if (bytes.length >= 12 && ascii(bytes, 4, 8) === 'ftyp') {
    const major = ascii(bytes, 8, 12);
    if (AVIF_BRANDS.has(major)) {
      return 'avif';
    }
    if (HEIC_BRANDS.has(major)) {
      return 'heic';
    }
  }
  return 'unknown';
}

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...bytes.subarray(start, end));
}
