import { getResourceTypes } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { loadBaseDefinitions } from '../definitions';
import { BinaryFiles } from './binary-files';
import { DurabilityBarrier } from './durability-barrier';
import { markCleanClose, moveBinaryContentToFiles, sweepAfterCrash } from './binary-migration';
import type { CheckpointSettings, CheckpointStats } from './checkpointer';
import { Checkpointer, DEFAULT_CHECKPOINTS } from './checkpointer';
import type { CompositeIndexSpec } from './composite-index';
import { CompositeIndexes, DEFAULT_COMPOSITE_INDEXES } from './composite-index';
import { migrate } from './schema';
import { SearchParamRegistry } from './search-param-registry';
import { SearchSqlBuilder } from './search-sql';
import { WriteCoordinator } from './write-coordinator';

/**
 * Called inside the write transaction before a version is stored; throw an OperationOutcomeError
 * to refuse the write (validation, lifecycle rules). `previous` is the current version, if any.
 */
export type WriteGuard = (next: Resource, previous: Resource | undefined) => void;

/** One committed change, as the change log records it. */
export interface CommittedChange {
  readonly seq: number;
  readonly resourceType: string;
  readonly id: string;
  readonly versionId: string;
  readonly interaction: 'create' | 'update' | 'delete';
}

export interface StoreOptions {
  /** Database file; `:memory:` for a throwaway store (tests). */
  readonly path: string;
  /** Public base URL with trailing slash; absolute references under it are stored relative. */
  readonly baseUrl: string;
  readonly guards?: readonly WriteGuard[];
  /** Composite search indexes to keep (default: the review queue's); `[]` keeps none. */
  readonly compositeIndexes?: readonly CompositeIndexSpec[];
  /** Rows a `_sort=_lastUpdated` search walks before it sorts instead (resource-reader.ts); 0 never walks. */
  readonly sortWindowRows?: number;
  /**
   * Directory of Binary content files (binary-files.ts). Default: `<db dir>/<db name>-binary`;
   * a `:memory:` store gets a temporary one, removed on close.
   */
  readonly binaryDir?: string;
  /** WAL checkpoint thread settings (checkpointer.ts); ignored for `:memory:`. */
  readonly checkpoints?: Partial<Omit<CheckpointSettings, 'path'>>;
}

/**
 * The embedded store's connections and shared state. One writer connection (all writes go through
 * the WriteCoordinator) and one reader connection: in WAL mode the reader sees the last committed
 * state and never blocks on, or sees half of, a write in progress.
 */
export class SqliteStore {
  readonly writer: DatabaseSync;
  readonly reader: DatabaseSync;
  readonly coordinator: WriteCoordinator;
  readonly params: SearchParamRegistry;
  readonly sql: SearchSqlBuilder;
  readonly composites: CompositeIndexes;
  readonly sortWindowRows: number;
  readonly guards: WriteGuard[];
  readonly baseUrl: string;
  readonly binaries: BinaryFiles;
  private readonly temporaryBinaryDir: boolean;
  private readonly checkpointer?: Checkpointer;
  private readonly barrier?: DurabilityBarrier;
  private readonly changeListeners: ((changes: CommittedChange[]) => void)[] = [];

  constructor(options: StoreOptions) {
    loadBaseDefinitions();
    if (options.path !== ':memory:') {
      mkdirSync(dirname(options.path), { recursive: true });
    }
    this.writer = new DatabaseSync(options.path);
    // WAL + synchronous=NORMAL: COMMIT hands the WAL frames to the OS without an fsync on the event
    // loop; the durability barrier fdatasyncs the WAL on the thread pool before any write is
    // acknowledged, so an acknowledged write survives kill -9 and power loss
    // (durability-barrier.ts, https://www.sqlite.org/wal.html).
    this.writer.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF; PRAGMA busy_timeout = 5000');
    this.writer.exec('PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY');
    // No checkpoint inside a request's COMMIT: a worker thread runs them (checkpointer.ts). The
    // WAL is truncated back to 64 MiB whenever the writer restarts it.
    this.writer.exec('PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864');
    migrate(this.writer);
    this.temporaryBinaryDir = options.path === ':memory:' && !options.binaryDir;
    this.binaries = new BinaryFiles(options.binaryDir ?? defaultBinaryDir(options.path));
    moveBinaryContentToFiles(this.writer, this.binaries);
    sweepAfterCrash(this.writer, this.binaries);
    if (options.path !== ':memory:') {
      this.checkpointer = new Checkpointer({ ...DEFAULT_CHECKPOINTS, ...options.checkpoints, path: options.path }, (fn) =>
        this.coordinator.paused(fn)
      );
    }
    // An in-memory database is private to its connection, so a second one would see nothing.
    this.reader = options.path === ':memory:' ? this.writer : new DatabaseSync(options.path, { readOnly: true });
    this.reader.exec('PRAGMA busy_timeout = 5000; PRAGMA cache_size = -65536');
    this.barrier = options.path === ':memory:' ? undefined : new DurabilityBarrier(`${options.path}-wal`);
    this.coordinator = new WriteCoordinator(this.writer, this.barrier);
    this.params = new SearchParamRegistry(this.writer, getResourceTypes());
    this.sql = new SearchSqlBuilder(this.params, options.baseUrl);
    this.sortWindowRows = options.sortWindowRows ?? 2000;
    this.composites = new CompositeIndexes(this.writer, this.params, options.compositeIndexes ?? DEFAULT_COMPOSITE_INDEXES);
    this.guards = [...(options.guards ?? [])];
    this.baseUrl = options.baseUrl;
  }

  /** Registers a listener for changes after they commit (subscriptions, caches). */
  /** Returns the unsubscribe: a listener that outlives its reader keeps every change it was given. */
  onCommitted(listener: (changes: CommittedChange[]) => void): () => void {
    this.changeListeners.push(listener);
    return () => {
      const i = this.changeListeners.indexOf(listener);
      if (i >= 0) {
        this.changeListeners.splice(i, 1);
      }
    };
  }

  notifyCommitted(changes: CommittedChange[]): void {
    for (const listener of this.changeListeners) {
      listener(changes);
    }
  }

  /** Closes the store; resolves with what the checkpoint thread did (tests bound the WAL with it). */
  async close(): Promise<CheckpointStats | undefined> {
    await this.coordinator.drain();
    await this.barrier?.close();
    const stats = await this.checkpointer?.stop();
    if (this.reader !== this.writer) {
      this.reader.close();
    }
    this.writer.close();
    if (this.temporaryBinaryDir) {
      rmSync(this.binaries.dir, { recursive: true, force: true });
    } else {
      markCleanClose(this.binaries);
    }
    return stats;
  }
}

function defaultBinaryDir(path: string): string {
  if (path === ':memory:') {
    return mkdtempSync(join(tmpdir(), 'dermbridge-binary-'));
  }
  return join(dirname(path), `${basename(path).replace(/\.sqlite$/, '')}-binary`);
}
