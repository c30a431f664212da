import { parentPort } from 'node:worker_threads';
import { PhotoError } from './photo-error';
import { inspectPhoto, processPhoto } from './process-photo';
import type { PhotoJob, PhotoJobResult } from './photo-thread';

/** The photo thread (photo-thread.ts): runs the pipeline on each job and answers with its result or its PhotoError. */
parentPort?.on('message', (job: PhotoJob) => {
  const input = Buffer.from(job.input.buffer, job.input.byteOffset, job.input.byteLength);
  const work = job.op === 'process' ? processPhoto(input, job.limits) : inspectPhoto(input, job.limits);
  work.then(
    (value) => parentPort?.postMessage({ id: job.id, value } satisfies PhotoJobResult),
    (err: unknown) => {
      const error = err instanceof PhotoError ? { code: err.code, message: err.message, status: err.status } : { message: err instanceof Error ? err.message : String(err) };
      parentPort?.postMessage({ id: job.id, error } satisfies PhotoJobResult);
    }
  );
});
