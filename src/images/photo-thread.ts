import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { PhotoError, type PhotoErrorCode } from './photo-error';
import type { PhotoQuality } from './photo-quality';
import type { EncodedImage, ImageKind, PhotoLimits, ProcessedPhoto } from './process-photo';

/**
 * The photo pipeline on its own thread. The pixels of a 12 MP photo are a 36 MB buffer, and a case
 * holds several; in the server's isolate (a few hundred MB of heap: FHIR definitions, validators,
 * caches) each such allocation pushes V8 towards a full mark of that whole heap, on the same two
 * cores libvips needs. Measured (bench/intake.ts): the same sharp work took 20–25 % longer inside
 * the server than in a bare process. A worker has an isolate of its own with a heap of a few MB,
 * so those collections cost next to nothing; libvips still runs on the process's libuv threads.
 * One thread is enough: it only drives sharp (asynchronous), the pixel work is libvips'.
 */
export type PhotoJob = { readonly id: number; readonly op: 'process' | 'inspect'; readonly input: Uint8Array; readonly limits: PhotoLimits };
/** What the thread posts back for a job: zero or more progress events, then `done` or `failed`. */
export type PhotoJobMessage =
  | { readonly id: number; readonly event: 'decoded' }
  | { readonly id: number; readonly event: 'encoded'; readonly kind: ImageKind; readonly image: EncodedImage }
  | { readonly id: number; readonly event: 'done'; readonly value: InspectedPhoto }
  | { readonly id: number; readonly event: 'failed'; readonly error: { readonly code?: PhotoErrorCode; readonly message: string; readonly status?: PhotoError['status'] } };
export interface InspectedPhoto {
  readonly sourceType: ProcessedPhoto['sourceType'];
  readonly quality: PhotoQuality;
}

/**
 * A photo on its way through the pipeline. Every promise rejects with the job's error if it fails
 * first; none of them is an unhandled rejection when nobody waits for it (a retry answered with
 * its existing case never looks at its photos).
 */
export interface StagedPhoto {
  /** The photo is valid input: type, size and pixel caps, a complete strict decode. */
  readonly decoded: Promise<void>;
  /** Each image as soon as it is encoded. */
  readonly images: { readonly [K in ImageKind]: Promise<EncodedImage> };
  readonly done: Promise<ProcessedPhoto>;
}

interface Job {
  readonly decoded: Deferred<void>;
  readonly images: { readonly [K in ImageKind]: Deferred<EncodedImage> };
  readonly result: Deferred<InspectedPhoto>;
}

class PhotoThread {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Job>();
  private nextId = 0;

  run(op: PhotoJob['op'], input: Buffer, limits: PhotoLimits): Job {
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    const job: Job = {
      decoded: new Deferred(),
      images: { original: new Deferred(), review: new Deferred(), thumbnail: new Deferred() },
      result: new Deferred(),
    };
    this.pending.set(id, job);
    // Copied, not transferred: the caller keeps its upload (a copy of a few MB is ~1 ms).
    worker.postMessage({ id, op, input, limits } satisfies PhotoJob);
    return job;
  }

  private start(): Worker {
    const file = join(__dirname, `photo-thread-worker${__filename.endsWith('.ts') ? '.ts' : '.js'}`);
    const worker = new Worker(file);
    // Never what keeps the process alive; it only has work while a request waits for it.
    worker.unref();
    worker.on('message', (msg: PhotoJobMessage) => this.settle(msg));
    worker.on('error', (err) => this.fail(worker, err));
    worker.on('exit', (code) => this.fail(worker, new Error(`photo thread exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  private settle(msg: PhotoJobMessage): void {
    const job = this.pending.get(msg.id);
    if (!job) {
      return;
    }
    switch (msg.event) {
      case 'decoded':
        job.decoded.resolve();
        return;
      case 'encoded':
        // Structured clone turns Buffers into plain Uint8Arrays: make them Buffers again (no copy).
        job.images[msg.kind].resolve({ ...msg.image, bytes: Buffer.from(msg.image.bytes.buffer, msg.image.bytes.byteOffset, msg.image.bytes.byteLength) });
        return;
      case 'done':
        this.pending.delete(msg.id);
        job.decoded.resolve();
        job.result.resolve(msg.value);
        return;
      case 'failed': {
        this.pending.delete(msg.id);
        const { code, message, status } = msg.error;
        rejectAll(job, code ? new PhotoError(code, message, status) : new Error(message));
        return;
      }
    }
  }

  /** The jobs in flight fail; the next job starts a new thread. */
  private fail(worker: Worker, err: unknown): void {
    if (this.worker !== worker) {
      return;
    }
    this.worker = undefined;
    for (const job of this.pending.values()) {
      rejectAll(job, err);
    }
    this.pending.clear();
  }
}

/** Rejects what is still open; what already resolved stays resolved. */
function rejectAll(job: Job, err: unknown): void {
  job.decoded.reject(err);
  Object.values(job.images).forEach((d) => d.reject(err));
  job.result.reject(err);
}

class Deferred<T> {
  readonly promise: Promise<T>;
  resolve!: (value: T) => void;
  reject!: (reason: unknown) => void;

  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // Handled here too, so that a promise nobody awaits never counts as an unhandled rejection.
    this.promise.catch(() => undefined);
  }
}

let thread: PhotoThread | undefined;

/** processPhoto (process-photo.ts) on the photo thread, shared by everything in the process, as it progresses. */
export function processPhotoStaged(input: Buffer, limits: PhotoLimits): StagedPhoto {
  thread ??= new PhotoThread();
  const job = thread.run('process', input, limits);
  const images = { original: job.images.original.promise, review: job.images.review.promise, thumbnail: job.images.thumbnail.promise };
  const done = Promise.all([images.original, images.review, images.thumbnail, job.result.promise]).then(
    ([original, review, thumbnail, { quality, sourceType }]): ProcessedPhoto => ({ original, review, thumbnail, quality, sourceType })
  );
  done.catch(() => undefined);
  return { decoded: job.decoded.promise, images, done };
}

/** processPhoto on the photo thread: the finished photo. */
export function processPhotoOffThread(input: Buffer, limits: PhotoLimits): Promise<ProcessedPhoto> {
  return processPhotoStaged(input, limits).done;
}

/** inspectPhoto (process-photo.ts) on the photo thread. */
export function inspectPhotoOffThread(input: Buffer, limits: PhotoLimits): Promise<InspectedPhoto> {
  thread ??= new PhotoThread();
  return thread.run('inspect', input, limits).result.promise;
}
