import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { PhotoError, type PhotoErrorCode } from './photo-error';
import type { PhotoQuality } from './photo-quality';
import type { PhotoLimits, ProcessedPhoto } from './process-photo';

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
export type PhotoJobResult =
  | { readonly id: number; readonly value: ProcessedPhoto | InspectedPhoto; readonly error?: undefined }
  | { readonly id: number; readonly error: { readonly code?: PhotoErrorCode; readonly message: string; readonly status?: PhotoError['status'] } };
export interface InspectedPhoto {
  readonly sourceType: ProcessedPhoto['sourceType'];
  readonly quality: PhotoQuality;
}

interface Pending {
  readonly resolve: (value: ProcessedPhoto | InspectedPhoto) => void;
  readonly reject: (reason: unknown) => void;
}

class PhotoThread {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;

  run(op: PhotoJob['op'], input: Buffer, limits: PhotoLimits): Promise<ProcessedPhoto | InspectedPhoto> {
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Copied, not transferred: the caller keeps its upload (a copy of a few MB is ~1 ms).
      worker.postMessage({ id, op, input, limits } satisfies PhotoJob);
    });
  }

  private start(): Worker {
    const file = join(__dirname, `photo-thread-worker${__filename.endsWith('.ts') ? '.ts' : '.js'}`);
    const worker = new Worker(file);
    // Never what keeps the process alive; it only has work while a request waits for it.
    worker.unref();
    worker.on('message', (msg: PhotoJobResult) => this.settle(msg));
    worker.on('error', (err) => this.fail(worker, err));
    worker.on('exit', (code) => this.fail(worker, new Error(`photo thread exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  private settle(msg: PhotoJobResult): void {
    const job = this.pending.get(msg.id);
    this.pending.delete(msg.id);
    if (!job) {
      return;
    }
    if (msg.error) {
      const { code, message, status } = msg.error;
      job.reject(code ? new PhotoError(code, message, status) : new Error(message));
      return;
    }
    job.resolve(revive(msg.value));
  }

  /** The jobs in flight fail; the next job starts a new thread. */
  private fail(worker: Worker, err: unknown): void {
    if (this.worker !== worker) {
      return;
    }
    this.worker = undefined;
    for (const job of this.pending.values()) {
      job.reject(err);
    }
    this.pending.clear();
  }
}

/** Structured clone turns Buffers into plain Uint8Arrays: make the images Buffers again (no copy). */
function revive(value: ProcessedPhoto | InspectedPhoto): ProcessedPhoto | InspectedPhoto {
  if (!('original' in value)) {
    return value;
  }
  const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    ...value,
    original: { ...value.original, bytes: asBuffer(value.original.bytes) },
    review: { ...value.review, bytes: asBuffer(value.review.bytes) },
    thumbnail: { ...value.thumbnail, bytes: asBuffer(value.thumbnail.bytes) },
  };
}

let thread: PhotoThread | undefined;

/** processPhoto (process-photo.ts) on the photo thread, shared by everything in the process. */
export function processPhotoOffThread(input: Buffer, limits: PhotoLimits): Promise<ProcessedPhoto> {
  thread ??= new PhotoThread();
  return thread.run('process', input, limits) as Promise<ProcessedPhoto>;
}

/** inspectPhoto (process-photo.ts) on the photo thread. */
export function inspectPhotoOffThread(input: Buffer, limits: PhotoLimits): Promise<InspectedPhoto> {
  thread ??= new PhotoThread();
  return thread.run('inspect', input, limits) as Promise<InspectedPhoto>;
}
