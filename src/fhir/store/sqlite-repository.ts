import type { Operation, SearchRequest, WithId } from '@medplum/core';
import {
  applyPatch,
  badRequest,
  conflict,
  deepEquals,
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
import type { Bundle, BundleEntry, Parameters, Reference, Resource } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import { ResourceReader } from './resource-reader';
import { ResourceWriter } from './resource-writer';
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
    return this.write(() => {
      const existing = this.parts.writer.current(next.resourceType, next.id);
      if (existing && !existing.deleted) {
        throw new OperationOutcomeError(conflict(`${next.resourceType}/${next.id} already exists`));
      }
      return this.parts.writer.put(next, existing, undefined);
    });
  }

  async updateResource<T extends Resource>(resource: T, options?: UpdateResourceOptions): Promise<WithId<T>> {
    if (!resource.id) {
      throw new OperationOutcomeError(badRequest('Missing id', `${resource.resourceType}.id`));
    }
    const id = resource.id;
    return this.write(() => {
      const existing = this.parts.writer.current(resource.resourceType, id);
      const previous = existing && !existing.deleted ? (JSON.parse(existing.content) as WithId<T>) : undefined;
      if (options?.ifMatch && (!previous || existing?.versionId !== options.ifMatch)) {
        throw new OperationOutcomeError(previous ? preconditionFailed : notFound);
      }
      // Re-sending what is already stored creates no version: sync and retries stay idempotent.
      if (previous && sameContent(previous, resource)) {
        return previous;
      }
      const stored = this.parts.writer.put(this.newVersion({ ...resource, id }), existing, previous);
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

  /** Raw bytes and content type of a Binary, for non-FHIR `Accept` headers. */
  readBinaryContent(id: string): { contentType: string; bytes: Uint8Array } {
    return this.reader.binaryBytes(id);
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

function sameContent(stored: Resource, incoming: Resource): boolean {
  const strip = (r: Resource): Resource => {
    const { versionId: _v, lastUpdated: _l, compartment: _c, ...meta } = r.meta ?? {};
    return { ...r, meta: Object.keys(meta).length ? meta : undefined } as Resource;
  };
  return deepEquals(strip(stored), strip(incoming));
}
