import { setFlagsFromString } from 'node:v8';

/*
 * Imported first by src/main.ts, before anything allocates.
 *
 * By default V8 starts a full garbage collection of the whole heap each time memory held outside
 * it (Buffers: request bodies, photos) has grown by a fixed 64 MB since the last one, however
 * little of the heap itself changed. A 3-photo case moves ~70 MB of such bytes through the server,
 * so every case paid 3–4 full collections of a ~60 MB heap, ~150 ms of CPU on a 2-core machine
 * that the photo pipeline needs (bench/README.md, "Intake"). With this flag that memory counts
 * towards the heap's ordinary global limit instead, which grows with the heap like any other
 * allocation: collections come when the memory is actually large, not on a fixed step. The price
 * is a higher peak: under back-to-back 12 MP cases the server's peak resident memory went from
 * ~1.1 to 1.2–1.4 GiB (bench:intake prints it); the limit still bounds it.
 * `DERMBRIDGE_GC_TUNING=off` leaves V8's default (an operator's escape hatch, and the A/B of the benchmark).
 */
if (process.env.DERMBRIDGE_GC_TUNING !== 'off') {
  setFlagsFromString('--external-memory-accounted-in-global-limit');
}
