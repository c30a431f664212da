/**
 * Deterministic pseudo-random numbers (mulberry32): small, fast, good enough to spread values, and
 * the same sequence for the same seed, so generated fixtures, photos and benchmark stores are the
 * same bytes on every run.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
