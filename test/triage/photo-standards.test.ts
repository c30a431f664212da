import type { Media } from '@medplum/fhirtypes';
import { strict as assert } from 'node:assert';
import { PHOTO_QUALITY_EXTENSION, checkPhotos, retakeMessage } from '../../src/triage/photo-standards';

function photo(id: string, view: string, extra: Partial<Media> = {}): Media {
  return {
    resourceType: 'Media',
    id,
    status: 'completed',
    content: { contentType: 'image/jpeg', title: `${view}.jpg` },
    view: { coding: [{ code: view }] },
    bodySite: { text: 'left shin' },
    width: 1024,
    height: 768,
    ...extra,
  };
}

const issue = (code: string): Media['extension'] => [{ url: PHOTO_QUALITY_EXTENSION, extension: [{ url: 'issue', valueCode: code }] }];

describe('src/triage/photo-standards', () => {
  it('an overview and two close-ups of good quality pass', () => {
    assert.deepEqual(checkPhotos([photo('a', 'overview'), photo('b', 'close-up'), photo('c', 'close-up')]), []);
  });

  it('two photos of a site are too few, and a missing overview is named', () => {
    const problems = checkPhotos([photo('b', 'close-up'), photo('c', 'dermoscopic')]);
    assert.deepEqual(problems.map((p) => p.code), ['too_few_photos', 'no_overview']);
    assert.ok(problems.every((p) => p.site === 'left shin'));
  });

  it('599 px on the short side is too small; 600 is enough', () => {
    const small = checkPhotos([photo('a', 'overview', { width: 800, height: 599 }), photo('b', 'close-up'), photo('c', 'close-up')]);
    assert.deepEqual(small.map((p) => [p.code, p.media]), [['low_resolution', 'Media/a']]);
    assert.deepEqual(checkPhotos([photo('a', 'overview', { width: 800, height: 600 }), photo('b', 'close-up'), photo('c', 'close-up')]), []);
  });

  it('blurred, under- and over-exposed photos recorded by intake each get their own retake advice', () => {
    const problems = checkPhotos([
      photo('a', 'overview', { extension: issue('underexposed') }),
      photo('b', 'close-up', { extension: issue('blurry') }),
      photo('c', 'close-up', { extension: issue('overexposed') }),
    ]);
    assert.deepEqual(problems.map((p) => `${p.code} ${p.media}`), ['underexposed Media/a', 'blurry Media/b', 'overexposed Media/c']);
    const text = retakeMessage(problems);
    assert.match(text, /Retake the close-up photo "close-up.jpg" of left shin: Take it again in focus/);
    assert.match(text, /brighter light/);
    assert.match(text, /without the flash/);
  });
});

describe('src/triage/photo-standards (retaken photos)', () => {
  it('a blurred close-up no longer counts once a later sharp close-up of the same site arrives', () => {
    const old = photo('b', 'close-up', { extension: issue('blurry'), issued: '2025-01-14T10:00:00Z' });
    const base = [photo('a', 'overview', { issued: '2025-01-14T10:00:00Z' }), old, photo('c', 'close-up', { issued: '2025-01-14T10:00:00Z' })];
    assert.deepEqual(checkPhotos(base).map((p) => p.code), ['blurry']);
    const retaken = photo('d', 'close-up', { issued: '2025-01-15T08:00:00Z' });
    assert.deepEqual(checkPhotos([...base, retaken]), []);
  });
});
