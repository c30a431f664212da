import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

export interface CheckpointSettings {
  /** Database file (its WAL is `<path>-wal`). */
  readonly path: string;
  /** How often the worker looks at the WAL. */
  readonly intervalMs: number;
  /** No WAL change for this long: the WAL is truncated to zero. */
  readonly idleMs: number;
  /** A WAL larger than this is truncated even while writes continue. */
  readonly walBoundBytes: number;
  /** How long the truncation of an oversized WAL waits for a gap between write transactions. */
  readonly maxTruncateWaitMs: number;
}

export interface CheckpointStats {
  passive: number;
  truncate: number;
  maxWalBytes: number;
}

export const DEFAULT_CHECKPOINTS: Omit<CheckpointSettings, 'path'> = {
  intervalMs: 200,
  idleMs: 1000,
  walBoundBytes: 64 * 1024 * 1024,
  maxTruncateWaitMs: 2000,
};

/**
 * WAL checkpoints on a worker thread with its own connection. With `wal_autocheckpoint` on, the
 * COMMIT that crosses the threshold copies the whole WAL back into the database on the event loop
 * (0.2–0.8 s for 64 MB, blocking every request); the writer now has it off, and this thread runs
 * PASSIVE checkpoints (which never block the writer) every `intervalMs`, so the writer can restart
 * the WAL from its beginning whenever a checkpoint completes between two write transactions.
 * TRUNCATE runs when writes pause, or when back-to-back commits have let the WAL outgrow its bound:
 * it needs the write lock for a moment (a writer then waits on its busy timeout for what PASSIVE
 * had not copied yet), the price of a bounded WAL under sustained load.
 */
export class Checkpointer {
  private readonly worker: Worker;
  private readonly exited: Promise<CheckpointStats | undefined>;

  /** `pauseWrites(fn)` runs fn with no write transaction open and later writes queued behind it. */
  constructor(settings: CheckpointSettings, pauseWrites: (fn: () => Promise<void>) => Promise<void>) {
    const file = join(__dirname, `checkpoint-worker${__filename.endsWith('.ts') ? '.ts' : '.js'}`);
    this.worker = new Worker(file, { workerData: settings });
    this.worker.unref();
    let truncated: (() => void) | undefined;
    let stopped = false;
    this.exited = new Promise((resolve) => {
      let stats: CheckpointStats | undefined;
      const end = (): void => {
        stopped = true;
        truncated?.();
        resolve(stats);
      };
      this.worker.on('message', (message: CheckpointStats | 'truncate-wanted' | 'truncated') => {
        if (message === 'truncate-wanted') {
          void pauseWrites(
            () =>
              new Promise<void>((done) => {
                truncated = done;
                if (stopped) {
                  done();
                  return;
                }
                this.worker.postMessage('truncate-now');
              })
          ).catch(() => undefined);
        } else if (message === 'truncated') {
          truncated?.();
          truncated = undefined;
        } else {
          stats = message;
        }
      });
      this.worker.on('error', end);
      this.worker.on('exit', end);
    });
  }

  /** Stops the thread (closing its connection); resolves with what it did. */
  async stop(): Promise<CheckpointStats | undefined> {
    this.worker.postMessage('stop');
    const timeout = setTimeout(() => void this.worker.terminate(), 2000);
    const stats = await this.exited;
    clearTimeout(timeout);
    return stats;
  }
}
