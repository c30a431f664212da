import assert from 'node:assert/strict';
import sharp from 'sharp';
import { PhotoError } from '../../src/images/photo-error';
import { inspectPhotoOffThread, processPhotoStaged } from '../../src/images/photo-thread';
import { DEFAULT_PHOTO_LIMITS, processPhoto } from '../../src/images/process-photo';
import { jpegWithGps, skinPhoto } from './photo-fixtures';

describe('images/photo-thread: the pipeline on its own thread, as it progresses', () => {
  it('reports the decode first, then each image as it is encoded, then the whole photo: the same as in-process', async () => {
    const input = await jpegWithGps({ width: 1600, height: 1200 });
    const order: string[] = [];
    const staged = processPhotoStaged(input, DEFAULT_PHOTO_LIMITS);
    const seen = [
      staged.decoded.then(() => order.push('decoded')),
      ...(['original', 'review', 'thumbnail'] as const).map((kind) => staged.images[kind].then(() => order.push(kind))),
    ];
    const photo = await staged.done;
    order.push('done');
    await Promise.all(seen);
    assert.equal(order[0], 'decoded');
    assert.equal(order.at(-1), 'done');
    assert.deepEqual([...order].sort(), ['decoded', 'done', 'original', 'review', 'thumbnail']);
    // What crossed the thread is what the images promised, as Buffers, and what processPhoto makes.
    assert.ok(Buffer.isBuffer(photo.original.bytes));
    assert.equal(await staged.images.review, photo.review);
    const inProcess = await processPhoto(input);
    assert.deepEqual({ ...photo.quality }, { ...inProcess.quality });
    assert.deepEqual([photo.original.width, photo.original.height], [1200, 1600], 'upright (EXIF orientation 6)');
    assert.equal((await sharp(photo.original.bytes).metadata()).exif, undefined);
  });

  it('rejects every promise of a photo that does not decode with its PhotoError, and the thread carries on', async () => {
    const whole = await skinPhoto({ seed: 3 });
    const staged = processPhotoStaged(whole.subarray(0, Math.floor(whole.length * 0.6)), DEFAULT_PHOTO_LIMITS);
    for (const promise of [staged.decoded, staged.images.original, staged.images.review, staged.images.thumbnail, staged.done]) {
      await assert.rejects(promise, (err: unknown) => err instanceof PhotoError && err.code === 'photo-corrupt');
    }
    const next = await inspectPhotoOffThread(whole, DEFAULT_PHOTO_LIMITS);
    assert.equal(next.sourceType, 'jpeg');
  });
});
