import { close, fdatasync, openSync } from 'node:fs';

type SyncFile = (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void;

/** The WAL could not be made durable: the store stops taking writes (fail-stop, as Postgres does). */
export class StorageSyncError extends Error {
  readonly code = 'ERR_STORAGE_SYNC';
  constructor(cause: unknown) {
    super(`the write-ahead log could not be synced to disk; restart the server (${(cause as Error)?.message ?? cause})`, { cause });
  }
}

/**
 * Makes committed transactions durable without blocking the event loop.
 *
 * With `synchronous = FULL`, SQLite fsyncs the WAL inside COMMIT, on the thread that runs it: for
 * node:sqlite that is the event loop, and the fsync was about a third of the server's time under
 * read load (every read commits its audit row). Instead the writer runs `synchronous = NORMAL`
 * (COMMIT writes the WAL frames to the OS, no fsync; WAL mode keeps the database consistent) and
 * this barrier fdatasyncs the WAL file on libuv's thread pool before any write is acknowledged.
 * Every transaction committed before a sync starts is durable when it ends, so one sync covers
 * all the commits that queued behind the previous one: group commit, with the event loop free
 * while the disk works. https://www.sqlite.org/pragma.html#pragma_synchronous
 *
 * The difference from FULL, argued in docs/adr/0001-embedded-store.md: a reader can see a commit
 * a millisecond before it is on disk. A power loss in that window loses a write that was never
 * acknowledged, and a read of it may have been answered. kill -9 loses nothing either way (the
 * OS keeps the page cache).
 */
export class DurabilityBarrier {
  private fd: number | undefined;
  private syncing = false;
  private waiting: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  private afterSync: (() => void)[] = [];
  private failure: StorageSyncError | undefined;

  constructor(
    private readonly walPath: string,
    private readonly syncFile: SyncFile = fdatasync
  ) {}

  /** Throws once a sync has failed: nothing may be written on storage that lost writes. */
  assertWritable(): void {
    if (this.failure) {
      throw this.failure;
    }
  }

  /** Resolves once every transaction committed before this call is on stable storage. */
  committed(): Promise<void> {
    if (this.failure) {
      return Promise.reject(this.failure);
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      if (!this.syncing) {
        this.startSync();
      }
    });
  }

  /**
   * Runs `fn` once the sync in flight has ended (at once if none is): a write committed now
   * would only wait for the next sync anyway, so the group commit holds it back and commits it
   * with every other write that arrives meanwhile. Never waits longer than one sync, however
   * busy the disk stays.
   */
  whenSyncEnds(fn: () => void): void {
    if (this.syncing) {
      this.afterSync.push(fn);
    } else {
      fn();
    }
  }

  /** Waits for the sync in flight, then closes the WAL file handle. */
  async close(): Promise<void> {
    while (this.syncing || this.waiting.length > 0) {
      await this.committed().catch(() => undefined);
    }
    if (this.fd !== undefined) {
      const fd = this.fd;
      this.fd = undefined;
      await new Promise<void>((resolve) => close(fd, () => resolve()));
    }
  }

  private startSync(): void {
    const batch = this.waiting.splice(0);
    this.syncing = true;
    let fd: number;
    try {
      // Opened on first use: the WAL file exists once the first transaction has committed.
      fd = this.fd ??= openSync(this.walPath, 'r+');
    } catch (err) {
      this.fail(batch, err);
      return;
    }
    this.syncFile(fd, (err) => {
      this.syncing = false;
      if (err) {
        this.fail(batch, err);
      } else {
        for (const w of batch) {
          w.resolve();
        }
        if (this.waiting.length > 0) {
          this.startSync();
        }
      }
      // After a failure too: the held-back writes then meet assertWritable and are refused.
      for (const fn of this.afterSync.splice(0)) {
        fn();
      }
    });
  }

  private fail(batch: { reject: (err: unknown) => void }[], cause: unknown): void {
    this.syncing = false;
    this.failure = new StorageSyncError(cause);
    for (const w of [...batch, ...this.waiting.splice(0)]) {
      w.reject(this.failure);
    }
  }
}
