import assert from 'node:assert/strict';
import { FOCUS_ANALYSIS_EDGE, FOCUS_THRESHOLD } from '../../src/images/photo-quality';
import { processPhoto } from '../../src/images/process-photo';
import { skinPhoto } from './photo-fixtures';

async function quality(options: Parameters<typeof skinPhoto>[0]) {
  return (await processPhoto(await skinPhoto(options))).quality;
}

describe('images/photo-quality', () => {
  it('calibrates the focus threshold: sharp photos score ≥ 2× above it, blurred ones below it', async function () {
    this.timeout(60000);
    const rows: string[] = [];
    for (const [width, height] of [
      [1024, 768],
      [2048, 1536],
      [800, 1067],
    ]) {
      // σ of 1 px at the analysis size, expressed in full-resolution pixels
      const sigmaAtAnalysis = Math.max(width, height) / FOCUS_ANALYSIS_EDGE;
      for (const seed of [1, 2, 3]) {
        const sharpScore = (await quality({ width, height, seed })).focusVariance;
        const blurScores = [];
        for (const sigma of [1, 2, 4]) {
          blurScores.push((await quality({ width, height, seed, blurSigma: sigma * sigmaAtAnalysis })).focusVariance);
        }
        rows.push(`${width}x${height} seed ${seed}: sharp ${sharpScore}, blurred σ1/2/4 ${blurScores.join('/')}`);
        assert.ok(sharpScore >= 2 * FOCUS_THRESHOLD, rows.at(-1));
        assert.ok(blurScores.every((s) => s < FOCUS_THRESHOLD), rows.at(-1));
      }
    }
  });

  it('labels a blurred photo blurry with advice', async () => {
    const q = await quality({ blurSigma: 6 });
    assert.equal(q.blurry, true);
    assert.ok(q.issues.some((i) => i.code === 'blurry' && /focus/.test(i.message)));
  });

  it('passes a sharp, well-lit, skin-toned photo with no issues', async () => {
    const q = await quality({});
    assert.deepEqual(q.issues, []);
    assert.equal(q.exposure, 'ok');
    assert.equal(q.colourCast, 'none');
    assert.equal(q.resolutionOk, true);
  });

  it('flags under- and over-exposure', async () => {
    assert.equal((await quality({ brightness: 0.2 })).exposure, 'under');
    assert.equal((await quality({ brightness: 1.6 })).exposure, 'over');
  });

  it('flags a blue or green colour cast but not the natural red-yellow of skin', async () => {
    assert.equal((await quality({ tint: [-60, -20, 60] })).colourCast, 'blue');
    assert.equal((await quality({ tint: [-60, 40, -30] })).colourCast, 'green');
  });

  it('flags a resolution below 800 × 600', async () => {
    const q = await quality({ width: 640, height: 480 });
    assert.equal(q.resolutionOk, false);
    assert.ok(q.issues.some((i) => i.code === 'low_resolution'));
  });
});
