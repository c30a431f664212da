import { getResourceTypes } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { loadBaseDefinitions } from '../definitions';
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
  readonly guards: WriteGuard[];
  readonly baseUrl: string;
  private readonly changeListeners: ((changes: CommittedChange[]) => void)[] = [];

  constructor(options: StoreOptions) {
    loadBaseDefinitions();
    if (options.path !== ':memory:') {
      mkdirSync(dirname(options.path), { recursive: true });
    }
    this.writer = new DatabaseSync(options.path);
    // WAL + synchronous=FULL: COMMIT returns only after the WAL is fsynced, so an acknowledged
    // write survives kill -9 and power loss (https://www.sqlite.org/wal.html).
    this.writer.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF; PRAGMA busy_timeout = 5000');
    this.writer.exec('PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY');
    // Checkpoints run inside COMMIT on the event loop; spacing them out lets index pages that
    // change on every write be copied back once per checkpoint instead of once per few commits.
    this.writer.exec('PRAGMA wal_autocheckpoint = 16384; PRAGMA journal_size_limit = 268435456');
    migrate(this.writer);
    // An in-memory database is private to its connection, so a second one would see nothing.
    this.reader = options.path === ':memory:' ? this.writer : new DatabaseSync(options.path, { readOnly: true });
    this.reader.exec('PRAGMA busy_timeout = 5000; PRAGMA cache_size = -65536');
    this.coordinator = new WriteCoordinator(this.writer);
    this.params = new SearchParamRegistry(this.writer, getResourceTypes());
    this.sql = new SearchSqlBuilder(this.params, options.baseUrl);
    this.guards = [...(options.guards ?? [])];
    this.baseUrl = options.baseUrl;
  }

  /** Registers a listener for changes after they commit (subscriptions, caches). */
  onCommitted(listener: (changes: CommittedChange[]) => void): void {
    this.changeListeners.push(listener);
  }

  notifyCommitted(changes: CommittedChange[]): void {
    for (const listener of this.changeListeners) {
      listener(changes);
    }
  }

  async close(): Promise<void> {
    await this.coordinator.drain();
    if (this.reader !== this.writer) {
      this.reader.close();
    }
    this.writer.close();
  }
}
