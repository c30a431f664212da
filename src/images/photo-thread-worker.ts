import { parentPort } from 'node:worker_threads';
import { PhotoError } from './photo-error';
import { inspectPhoto, processPhoto } from './process-photo';
import type { PhotoJob, PhotoJobMessage } from './photo-thread';

/**
 * The photo thread (photo-thread.ts): runs the pipeline on each job. A `process` job reports as it
 * goes (decoded, then each image once encoded) and ends with the quality; every image crosses
 * once. An `inspect` job ends with its result. A failure ends either with its PhotoError.
 */
parentPort?.on('message', (job: PhotoJob) => {
  const post = (msg: PhotoJobMessage): void => parentPort?.postMessage(msg);
  const input = Buffer.from(job.input.buffer, job.input.byteOffset, job.input.byteLength);
  const work =
    job.op === 'process'
      ? processPhoto(input, job.limits, {
          decoded: () => post({ id: job.id, event: 'decoded' }),
          encoded: (kind, image) => post({ id: job.id, event: 'encoded', kind, image }),
        }).then(({ quality, sourceType }) => ({ quality, sourceType }))
      : inspectPhoto(input, job.limits);
  work.then(
    (value) => post({ id: job.id, event: 'done', value }),
    (err: unknown) => {
      const error = err instanceof PhotoError ? { code: err.code, message: err.message, status: err.status } : { message: err instanceof Error ? err.message : String(err) };
      post({ id: job.id, event: 'failed', error });
    }
  );
});
