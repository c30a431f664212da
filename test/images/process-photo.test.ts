import assert from 'node:assert/strict';
import sharp from 'sharp';
import { detectImageKind } from '../../src/images/image-type';
import { PhotoError } from '../../src/images/photo-error';
import { DEFAULT_PHOTO_LIMITS, processPhoto, REVIEW_LONG_EDGE, THUMBNAIL_LONG_EDGE } from '../../src/images/process-photo';
import { hugeDimensionPng, jpegMarkers, jpegWithGps, skinPhoto } from './photo-fixtures';

async function rejects(input: Buffer, code: string, limits = DEFAULT_PHOTO_LIMITS): Promise<PhotoError> {
  const err = await processPhoto(input, limits).then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e
  );
  assert.ok(err instanceof PhotoError, String(err));
  assert.equal(err.code, code);
  return err;
}

describe('images/process-photo', () => {
  it('detects JPEG, PNG, WebP and HEIC by their first bytes, whatever the file is called', async () => {
    assert.equal(detectImageKind(await skinPhoto({ format: 'jpeg', width: 64, height: 48 })), 'jpeg');
    assert.equal(detectImageKind(await skinPhoto({ format: 'png', width: 64, height: 48 })), 'png');
    assert.equal(detectImageKind(await skinPhoto({ format: 'webp', width: 64, height: 48 })), 'webp');
    const heic = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypheic'), Buffer.alloc(16)]);
    assert.equal(detectImageKind(heic), 'heic');
    assert.equal(detectImageKind(Buffer.from('%PDF-1.7 not a photo')), 'unknown');
  });

  it('removes EXIF, GPS and maker data from every stored image and applies the EXIF orientation', async () => {
    const input = await jpegWithGps({ width: 1024, height: 768 });
    assert.ok(input.includes('LeakyPhoneCo') && input.includes('SECRET-HOME-ADDRESS'), 'fixture carries EXIF');
    assert.equal((await sharp(input).metadata()).orientation, 6);
    const photo = await processPhoto(input);
    for (const image of [photo.original, photo.review, photo.thumbnail]) {
      const meta = await sharp(image.bytes).metadata();
      assert.equal(meta.exif, undefined);
      assert.equal(meta.xmp, undefined);
      assert.equal(meta.icc, undefined);
      assert.equal(meta.orientation, undefined);
      const markers = jpegMarkers(image.bytes);
      for (const app of [0xe1, 0xe2, 0xed]) {
        assert.ok(!markers.includes(app), `no APP${app - 0xe0} segment`);
      }
      assert.ok(!image.bytes.includes('Exif') && !image.bytes.includes('LeakyPhoneCo') && !image.bytes.includes('SECRET-HOME-ADDRESS'));
    }
    // orientation 6 = rotate 90° clockwise: the stored image is upright, portrait.
    assert.deepEqual([photo.original.width, photo.original.height], [768, 1024]);
  });

  it('keeps a review derivative (long edge 2048) and a thumbnail', async () => {
    const photo = await processPhoto(await skinPhoto({ width: 3000, height: 2000 }));
    assert.deepEqual([photo.original.width, photo.original.height], [3000, 2000]);
    assert.equal(Math.max(photo.review.width, photo.review.height), REVIEW_LONG_EDGE);
    assert.equal(Math.max(photo.thumbnail.width, photo.thumbnail.height), THUMBNAIL_LONG_EDGE);
    assert.equal(photo.review.contentType, 'image/jpeg');
  });

  it('stores PNG as PNG and converts WebP to JPEG (the photo profile allows only JPEG and PNG)', async () => {
    assert.equal((await processPhoto(await skinPhoto({ format: 'png' }))).original.contentType, 'image/png');
    const webp = await processPhoto(await skinPhoto({ format: 'webp' }));
    assert.equal(webp.sourceType, 'webp');
    assert.equal(webp.original.contentType, 'image/jpeg');
  });

  it('refuses a 0-byte file', async () => {
    await rejects(Buffer.alloc(0), 'photo-empty');
  });

  it('refuses a file that is not an image by its content, even when named .jpg', async () => {
    const err = await rejects(Buffer.from('%PDF-1.7\n1 0 obj << >> endobj\n'), 'photo-unsupported-type');
    assert.match(err.message, /JPEG or PNG/);
  });

  it('refuses HEIC and says how to send a JPEG instead', async () => {
    const heic = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypheic'), Buffer.alloc(64)]);
    const err = await rejects(heic, 'photo-heic-not-supported');
    assert.match(err.message, /Most Compatible/);
  });

  it('refuses a truncated JPEG', async () => {
    const whole = await skinPhoto();
    await rejects(whole.subarray(0, Math.floor(whole.length * 0.6)), 'photo-corrupt');
  });

  it('refuses a file over the byte cap before decoding it', async () => {
    await rejects(await skinPhoto({ width: 400, height: 300 }), 'photo-too-large', { maxBytes: 1000, maxPixels: 50e6 });
  });

  it('refuses a 30000 × 30000 PNG (a decompression bomb) from its header, without decoding it', async () => {
    const bomb = hugeDimensionPng();
    assert.ok(bomb.length < 200_000);
    const started = Date.now();
    const err = await rejects(bomb, 'photo-too-many-pixels');
    assert.match(err.message, /30000 × 30000/);
    assert.ok(Date.now() - started < 2000);
  });
});
