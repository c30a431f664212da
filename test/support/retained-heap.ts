import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Retained heap after a full GC, sampled at every tenth of a streamed input: a leak or a buffered
 * input grows it in step with the lines read, streaming keeps it flat. (Peak heapUsed only shows
 * when V8 chose to collect.) Pass `onProgress` to the import; read `mb()` after it.
 */
export function retainedHeapSampler(total: number): { onProgress: (lines: number) => void; mb: () => number[] } {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  const baseline = process.memoryUsage().heapUsed;
  const retained: number[] = [];
  let nextSample = total / 10;
  return {
    onProgress: (lines) => {
      if (lines >= nextSample) {
        nextSample += total / 10;
        gc();
        retained.push(process.memoryUsage().heapUsed - baseline);
      }
    },
    mb: () => retained.map((b) => Math.round(b / 1024 / 1024)),
  };
}
