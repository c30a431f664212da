import type { Operation, SearchRequest, WithId } from '@medplum/core';
import {
  applyPatch,
  badRequest,
  conflict,
  fhirpathPatchTypedValue,
  normalizeOperationOutcome,
  notFound,
  OperationOutcomeError,
  parseFhirPathPatchParameters,
  preconditionFailed,
  toTypedValue,
} from '@medplum/core';
import type {
  CreateResourceOptions,
  DeleteResourceOptions,
  ReadHistoryOptions,
  RepositoryMode,
  SearchOptions,
  TransactionOptions,
  UpdateResourceOptions,
} from '@medplum/fhir-router';
import { FhirRepository, getExtraEntries } from '@medplum/fhir-router';
import type { Binary, Bundle, BundleEntry, Parameters, Reference, Resource } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import type { StagedFile } from './binary-files';
import type { BulkOutcome, BulkWriteOptions } from './bulk-writer';
import { BulkWriter } from './bulk-writer';
import type { BinaryContent } from './resource-reader';
import { ResourceReader } from './resource-reader';
import { ResourceWriter, sameContent, splitBinary } from './resource-writer';
import type { SqliteStore } from './sqlite-store';
import { searchByReferenceVia } from '../search-by-reference';

/** The pieces every repository instance over one store shares. */
interface StoreParts {
  readonly store: SqliteStore;
  readonly writer: ResourceWriter;
  /** Reads committed data on the reader connection. */
  readonly committed: ResourceReader;
  /** Reads on the writer connection, inside a transaction. */
  readonly uncommitted: ResourceReader;
}

let savepointCounter = 0;

/** Results of `updateResource` that created the resource (PUT to a new id), so the route can answer 201. */
export const createdByUpdate = new WeakSet<Resource>();

/**
 * Raw bytes of a Binary sent as its own Content-Type (`POST/PUT Binary` with image/jpeg): the
 * route hands the Buffer over beside a Binary without `data`, so the bytes go to their content file
 * as they arrived, never through base64 (FhirRouter passes the body object through unchanged).
 */
const rawBinaryBytes = new WeakMap<Resource, Buffer>();

export function binaryWithRawBytes(binary: Binary, bytes: Buffer): Binary {
  rawBinaryBytes.set(binary, bytes);
  return binary;
}

/**
 * Medplum's `FhirRepository` on SQLite: the seam Medplum's own Postgres repository implements,
 * so `FhirRouter` (search parsing, batch/transaction bundles, conditional interactions, GraphQL)
 * runs unchanged on top. `withTransaction` is a real SQLite transaction, which is what makes a
 * transaction bundle all-or-nothing.
 */
export class SqliteRepository extends FhirRepository {
  private readonly parts: StoreParts;
  private readonly inTransaction: boolean;

  constructor(store: SqliteStore);
  constructor(parts: StoreParts, inTransaction: boolean);
  constructor(storeOrParts: SqliteStore | StoreParts, inTransaction = false) {
    super();
    this.parts =
      'coordinator' in storeOrParts
        ? {
            store: storeOrParts,
            writer: new ResourceWriter(storeOrParts),
            committed: new ResourceReader(storeOrParts, storeOrParts.reader),
            uncommitted: new ResourceReader(storeOrParts, storeOrParts.writer),
          }
        : storeOrParts;
    this.inTransaction = inTransaction;
  }

  private get reader(): ResourceReader {
    return this.inTransaction ? this.parts.uncommitted : this.parts.committed;
  }

  setMode(_mode: RepositoryMode): void {
    // One reader connection serves every mode; nothing to switch.
  }

  generateId(): string {
    return randomUUID();
  }

  async createResource<T extends Resource>(resource: T, options?: CreateResourceOptions): Promise<WithId<T>> {
    const next = this.newVersion({ ...resource, id: options?.assignedId && resource.id ? resource.id : this.generateId() });
    const staged = await this.stageBinary(resource, next);
    return this.writeStaged(staged, () => {
      const existing = this.parts.writer.current(next.resourceType, next.id);
      if (existing && !existing.deleted) {
        throw new OperationOutcomeError(conflict(`${next.resourceType}/${next.id} already exists`));
      }
      return this.parts.writer.put(next, existing, undefined, staged);
    });
  }

  async updateResource<T extends Resource>(resource: T, options?: UpdateResourceOptions): Promise<WithId<T>> {
    if (!resource.id) {
      throw new OperationOutcomeError(badRequest('Missing id', `${resource.resourceType}.id`));
    }
    const id = resource.id;
    const next = this.newVersion({ ...resource, id });
    const staged = await this.stageBinary(resource, next);
    return this.writeStaged(staged, () => {
      const existing = this.parts.writer.current(resource.resourceType, id);
      const previous = existing && !existing.deleted ? (JSON.parse(existing.content) as WithId<T>) : undefined;
      if (options?.ifMatch && (!previous || existing?.versionId !== options.ifMatch)) {
        throw new OperationOutcomeError(previous ? preconditionFailed : notFound);
      }
      // Re-sending what is already stored creates no version: sync and retries stay idempotent.
      // (A Binary's stored JSON has no `data`, so a Binary with content always makes a version.)
      if (previous && !staged && sameContent(previous, resource)) {
        return previous;
      }
      const stored = this.parts.writer.put(next, existing, previous, staged);
      if (!previous) {
        createdByUpdate.add(stored);
      }
      return stored;
    });
  }

  async deleteResource(resourceType: string, id: string, options?: DeleteResourceOptions): Promise<void> {
    await this.write(() => {
      const existing = this.parts.writer.current(resourceType, id);
      if (!existing || existing.deleted) {
        throw new OperationOutcomeError(notFound);
      }
      if (options?.ifMatch && existing.versionId !== options.ifMatch) {
        throw new OperationOutcomeError(preconditionFailed);
      }
      this.parts.writer.remove(resourceType, id, existing, this.generateId(), new Date().toISOString());
    });
  }

  async patchResource<T extends Resource>(
    resourceType: T['resourceType'],
    id: string,
    patch: Operation[] | Parameters,
    options?: UpdateResourceOptions
  ): Promise<WithId<T>> {
    return this.withTransaction(
      async (tx) => {
        const resource = tx.reader.read<T>(resourceType, id);
        if (options?.ifMatch && resource.meta?.versionId !== options.ifMatch) {
          throw new OperationOutcomeError(preconditionFailed);
        }
        try {
          if (Array.isArray(patch)) {
            const errors = applyPatch(resource, patch).filter(Boolean) as Error[];
            if (errors.length > 0) {
              throw new OperationOutcomeError(badRequest(errors.map((e) => e.message).join('\n')));
            }
          } else {
            fhirpathPatchTypedValue(toTypedValue(resource), parseFhirPathPatchParameters(patch));
          }
        } catch (err) {
          throw new OperationOutcomeError(normalizeOperationOutcome(err));
        }
        if (resource.resourceType !== resourceType || resource.id !== id) {
          throw new OperationOutcomeError(badRequest('A patch may not change resourceType or id'));
        }
        return tx.updateResource(resource);
      },
      { resourceTypes: [resourceType] as TransactionOptions['resourceTypes'] }
    );
  }

  async readResource<T extends Resource>(resourceType: string, id: string): Promise<WithId<T>> {
    return this.reader.read<T>(resourceType, id);
  }

  async readReference<T extends Resource>(reference: Reference<T>): Promise<WithId<T>> {
    const parts = reference.reference?.split('/');
    if (parts?.length !== 2 || !parts[0] || !parts[1]) {
      throw new OperationOutcomeError(badRequest(`Invalid reference "${reference.reference ?? ''}"`));
    }
    return this.readResource<T>(parts[0], parts[1]);
  }

  async readReferences<T extends Resource>(references: readonly Reference<T>[]): Promise<(T | Error)[]> {
    return Promise.all(
      references.map((r) =>
        this.readReference(r).catch((err: unknown) =>
          err instanceof OperationOutcomeError ? err : new OperationOutcomeError(normalizeOperationOutcome(err))
        )
      )
    );
  }

  async readHistory<T extends Resource>(resourceType: string, id: string, options?: ReadHistoryOptions): Promise<Bundle<WithId<T>>> {
    return this.reader.history<T>(resourceType, id, options?.offset, options?.limit);
  }

  async readVersion<T extends Resource>(resourceType: string, id: string, vid: string): Promise<WithId<T>> {
    return this.reader.readVersion<T>(resourceType, id, vid);
  }

  async search<T extends Resource>(searchRequest: SearchRequest<T>, _options?: SearchOptions): Promise<Bundle<WithId<T>>> {
    const bundle = this.reader.search(searchRequest);
    if ((searchRequest.include || searchRequest.revInclude) && bundle.entry?.length) {
      const entries = bundle.entry as BundleEntry[];
      const resources = entries.map((e) => e.resource as WithId<T>);
      await getExtraEntries(this, searchRequest, resources, entries, { fullUrl: (type, id) => this.reader.fullUrl(type, id) });
    }
    return bundle;
  }

  async searchByReference<T extends Resource>(
    searchRequest: SearchRequest<T>,
    referenceField: string,
    references: string[]
  ): Promise<Record<string, WithId<T>[]>> {
    return searchByReferenceVia(this, searchRequest, referenceField, references);
  }

  async withTransaction<TResult>(callback: (txRepo: this) => Promise<TResult>, _options?: TransactionOptions): Promise<TResult> {
    const { coordinator, writer } = this.parts.store;
    if (!this.inTransaction) {
      return coordinator.exclusive(() => callback(new SqliteRepository(this.parts, true) as this));
    }
    // Nested: a SAVEPOINT, so a caught failure inside undoes only its own part.
    const name = `nested_${++savepointCounter}`;
    const mark = coordinator.hookMark();
    writer.exec(`SAVEPOINT ${name}`);
    try {
      const result = await callback(this);
      writer.exec(`RELEASE ${name}`);
      return result;
    } catch (err) {
      coordinator.truncateHooks(mark);
      writer.exec(`ROLLBACK TO ${name}`);
      writer.exec(`RELEASE ${name}`);
      throw err;
    }
  }

  /** This store's FHIR base URL, with trailing slash (references under it count as local). */
  get fhirBase(): string {
    return `${this.parts.store.baseUrl}fhir/R4/`;
  }

  /** A Binary and its content file, for non-FHIR `Accept` headers (the route streams the file). */
  readBinaryContent(id: string): BinaryContent {
    return this.reader.binaryContent(id);
  }

  /**
   * The bulk write path (NDJSON import): upserts `resources` in one transaction of their own,
   * each validated and reference-checked, a refused one skipped and reported (see BulkWriter).
   */
  bulkUpsert(resources: readonly Resource[], options?: BulkWriteOptions): Promise<BulkOutcome[]> {
    if (this.inTransaction) {
      throw new Error('bulkUpsert commits its own transaction; call it outside withTransaction');
    }
    return new BulkWriter(this.parts.store, this.parts.writer).upsert(resources, options);
  }

  /**
   * A Binary's bytes are written to their content file and synced here, on the thread pool, before
   * the synchronous write that records the version: the event loop never waits for the disk, and
   * the COMMIT stays the one point that makes the version (and so its file) exist.
   */
  private async stageBinary(incoming: Resource, next: WithId<Resource>): Promise<StagedFile | undefined> {
    if (incoming.resourceType !== 'Binary') {
      return undefined;
    }
    const bytes = rawBinaryBytes.get(incoming) ?? splitBinary(next).bytes;
    if (!bytes) {
      return undefined;
    }
    delete (next as Binary).data;
    return this.parts.store.binaries.stage(next.id, (next.meta as { versionId: string }).versionId, bytes);
  }

  /** `write`, and the staged file removed again if the write never took it (refused, conflict). */
  private async writeStaged<T>(staged: StagedFile | undefined, op: () => T): Promise<T> {
    try {
      return await this.write(op);
    } catch (err) {
      if (staged && !staged.claimed) {
        this.parts.store.binaries.remove(staged.path);
      }
      throw err;
    }
  }

  /** Runs a synchronous write: directly inside a transaction, else group-committed. */
  private write<T>(op: () => T): Promise<T> {
    return this.inTransaction ? Promise.resolve().then(op) : this.parts.store.coordinator.grouped(op);
  }

  private newVersion<T extends Resource>(resource: T & { id: string }): WithId<T> {
    // Server-managed meta (versionId, lastUpdated, compartment) is never taken from the client.
    const { versionId: _v, lastUpdated: _l, compartment: _c, ...meta } = resource.meta ?? {};
    return { ...resource, meta: { ...meta, versionId: this.generateId(), lastUpdated: new Date().toISOString() } } as WithId<T>;
  }
}
