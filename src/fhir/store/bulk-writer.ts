import { isResourceType, normalizeErrorString } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import { patientCompartments } from './patient-compartment';
import type { FoundReference } from './reference-check';
import { findLocalReferences } from './reference-check';
import type { OffThreadGuard, Prepared } from './bulk-prepare';
import { isOffThreadGuard, preparePool } from './bulk-prepare';
import type { ResourceWriter, StoredRow } from './resource-writer';
import { sameContent } from './resource-writer';
import type { CommittedChange, SqliteStore } from './sqlite-store';

/** What became of one resource of a bulk batch. */
export type BulkOutcome =
  | { readonly status: 'created' | 'updated' | 'unchanged'; readonly resourceType: string; readonly id: string }
  | { readonly status: 'failed'; readonly reason: string };

/** What a batch wrote, handed to `beforeCommit` so its audit record commits (or not) with it. */
export interface BulkBatchWritten {
  /** `Type/id` of every resource created or updated. */
  readonly written: readonly string[];
  /** `Patient/<id>` of every patient whose compartment a written resource is in. */
  readonly patients: readonly string[];
  readonly outcomes: readonly BulkOutcome[];
}

export interface BulkWriteOptions {
  /** Runs inside the batch's transaction after its rows are written (the audit record). */
  readonly beforeCommit?: (batch: BulkBatchWritten) => void;
}

/** The last bulk batch handed in per store, for commit order. */
const commitOrder = new WeakMap<SqliteStore, Promise<unknown>>();

/** Below this many resources a batch is prepared in-thread: posting it to a worker would cost more. */
const MIN_OFF_THREAD = 32;

type Draft = Resource & { id: string; meta: { versionId: string; lastUpdated: string } };

type Candidate = {
  readonly index: number;
  readonly resource: Draft;
  readonly existing: StoredRow | undefined;
  readonly refs: readonly FoundReference[];
  readonly prepared?: Prepared & { ok: true };
};

/**
 * The bulk write path (NDJSON import): upserts many resources in one SQLite transaction, i.e.
 * one fsync for the whole batch, with the same rules as a single write. Each resource is validated
 * (the store's guards) before anything is inserted, so a refused resource is reported and skipped
 * without a SAVEPOINT and the rest of the batch commits. References are checked set-wise: a
 * reference resolves if its target is in the store or accepted in the same batch (as in a
 * transaction bundle). An unchanged resource writes nothing (a re-import is idempotent). Change-log
 * rows are written as for any write, and listeners are told once per batch after COMMIT.
 *
 * The per-resource work that needs no database (validation, compartments, index values, the JSON)
 * runs on worker threads before the transaction when the validation guard allows it, so it
 * overlaps with the writer inserting the previous batch; the other guards run here, in the
 * transaction, as always.
 */
export class BulkWriter {
  constructor(
    private readonly store: SqliteStore,
    private readonly writer: ResourceWriter
  ) {}

  async upsert(resources: readonly Resource[], options: BulkWriteOptions = {}): Promise<BulkOutcome[]> {
    const lastUpdated = new Date().toISOString();
    const drafts = resources.map((incoming): Draft => {
      const { versionId: _v, lastUpdated: _l, compartment: _c, ...meta } = incoming.meta ?? {};
      // A malformed id (a number, say) is kept, so validation refuses it rather than a new id hiding it.
      const id = incoming.id === undefined || incoming.id === '' ? randomUUID() : incoming.id;
      return { ...incoming, id, meta: { ...meta, versionId: randomUUID(), lastUpdated } };
    });
    const offThread = this.store.guards.find(isOffThreadGuard);
    const preparing = offThread ? this.prepareOffThread(offThread, drafts) : Promise.resolve(undefined);
    // Batches commit in the order they were handed in, however fast each was prepared: a later
    // batch may reference what an earlier one creates (Practitioners first, then their orders).
    const previous = commitOrder.get(this.store) ?? Promise.resolve();
    const committed = previous.then(async () => {
      const prepared = await preparing;
      return this.store.coordinator.exclusive(async () => this.upsertInTransaction(resources, drafts, prepared, offThread, options));
    });
    commitOrder.set(
      this.store,
      committed.catch(() => undefined)
    );
    return committed;
  }

  /** Prepared resources by position (none for Binary, whose bytes stay here), or undefined to do it all in-thread. */
  private async prepareOffThread(guard: OffThreadGuard, drafts: Draft[]): Promise<(Prepared | undefined)[] | undefined> {
    const positions = drafts.flatMap((d, i) => (d.resourceType === 'Binary' ? [] : [i]));
    if (positions.length < MIN_OFF_THREAD) {
      return undefined;
    }
    const pool = preparePool(guard.offThread, `${this.store.baseUrl}fhir/R4/`);
    if (!pool) {
      return undefined;
    }
    try {
      const done = await pool.prepare(positions.map((i) => drafts[i]));
      const byPosition: (Prepared | undefined)[] = new Array(drafts.length);
      positions.forEach((p, k) => (byPosition[p] = done[k]));
      return byPosition;
    } catch {
      // No worker (a crash, no threads here): the same work in-thread, just slower.
      return undefined;
    }
  }

  private upsertInTransaction(
    resources: readonly Resource[],
    drafts: Draft[],
    prepared: (Prepared | undefined)[] | undefined,
    offThread: OffThreadGuard | undefined,
    options: BulkWriteOptions
  ): BulkOutcome[] {
    const outcomes: BulkOutcome[] = new Array(resources.length);
    const fhirBase = `${this.store.baseUrl}fhir/R4/`;
    const candidates: Candidate[] = [];
    resources.forEach((incoming, index) => {
      const resource = drafts[index];
      try {
        const existing = incoming.id ? this.writer.current(incoming.resourceType, resource.id) : undefined;
        const previous = existing && !existing.deleted ? (JSON.parse(existing.content) as Resource) : undefined;
        if (previous && sameContent(previous, incoming)) {
          outcomes[index] = { status: 'unchanged', resourceType: incoming.resourceType, id: resource.id };
          return;
        }
        const done = prepared?.[index];
        if (done && !done.ok) {
          outcomes[index] = { status: 'failed', reason: done.reason };
          return;
        }
        for (const guard of this.store.guards) {
          if (!(done && guard === offThread)) {
            guard(resource, previous);
          }
        }
        const compartment = done ? done.compartment : patientCompartments(resource);
        if (compartment.length > 0) {
          (resource.meta as Resource['meta'] & object).compartment = compartment;
        }
        candidates.push({ index, resource, existing, refs: done ? done.refs : findLocalReferences(resource, fhirBase), prepared: done });
      } catch (err) {
        outcomes[index] = { status: 'failed', reason: normalizeErrorString(err) };
      }
    });
    const accepted = this.resolveReferences(candidates, outcomes);
    const changes: CommittedChange[] = [];
    const written: string[] = [];
    const patients = new Set<string>();
    for (const c of accepted) {
      this.writer.writeRows(c.resource, c.existing, changes, c.prepared);
      const status = c.existing && !c.existing.deleted ? 'updated' : 'created';
      outcomes[c.index] = { status, resourceType: c.resource.resourceType, id: c.resource.id };
      written.push(`${c.resource.resourceType}/${c.resource.id}`);
      for (const ref of (c.resource.meta as Resource['meta'] & object).compartment ?? []) {
        patients.add(ref.reference as string);
      }
    }
    options.beforeCommit?.({ written, patients: [...patients], outcomes });
    if (changes.length > 0) {
      this.store.coordinator.afterCommit(() => this.store.notifyCommitted(changes));
    }
    return outcomes;
  }

  /**
   * Drops candidates whose references do not resolve against the store plus the batch. Dropping
   * one can orphan another that pointed at it, so this repeats until nothing more is dropped.
   */
  private resolveReferences(candidates: Candidate[], outcomes: BulkOutcome[]): Candidate[] {
    const inStore = new Map<string, boolean>();
    const exists = (key: string, type: string, id: string): boolean => {
      let found = inStore.get(key);
      if (found === undefined) {
        const row = this.writer.current(type, id);
        found = row !== undefined && !row.deleted;
        inStore.set(key, found);
      }
      return found;
    };
    let accepted = candidates;
    for (;;) {
      const inBatch = new Set(accepted.map((c) => `${c.resource.resourceType}/${c.resource.id}`));
      const next = accepted.filter((c) => {
        const reason = unresolved(c.refs, (key, type, id) => inBatch.has(key) || exists(key, type, id));
        if (reason) {
          outcomes[c.index] = { status: 'failed', reason };
        }
        return !reason;
      });
      if (next.length === accepted.length) {
        return next;
      }
      accepted = next;
    }
  }
}

/** Why a reference does not resolve (the single-write check's wording), or undefined when all do. */
function unresolved(refs: readonly { reference: string; expression: string }[], exists: (key: string, type: string, id: string) => boolean): string | undefined {
  for (const { reference, expression } of refs) {
    if (reference.startsWith('urn:uuid:') || reference.startsWith('urn:oid:')) {
      return `Reference "${reference}" cannot resolve outside a bundle (${expression})`;
    }
    const [type, id] = reference.split('/');
    if (isResourceType(type) && id && !exists(`${type}/${id}`, type, id)) {
      return `Reference "${reference}" points to a resource that does not exist (${expression})`;
    }
  }
  return undefined;
}
