import { OperationOutcomeError, badRequest, deepEquals, stringify } from '@medplum/core';
import type { Binary, Resource } from '@medplum/fhirtypes';
import type { StatementSync } from 'node:sqlite';
import type { StagedFile } from './binary-files';
import { claimedBinaryIds, isPendingUpload } from './pending-uploads';
import type { IndexValues } from './index-values';
import { INDEX_INSERT_SQL, indexRowColumns } from './index-rows';
import type { ParamValues } from './bulk-prepare';
import { indexValuesOf } from './bulk-prepare';
import { patientCompartments } from './patient-compartment';
import { assertReferencesResolve, findLocalReferences } from './reference-check';
import type { CommittedChange, SqliteStore } from './sqlite-store';

export interface StoredRow {
  readonly rid: number;
  readonly versionId: string;
  readonly deleted: boolean;
  readonly content: string;
}

type WithId<T> = T & { id: string };

/**
 * The synchronous half of every write, run on the writer connection inside a transaction owned by
 * the WriteCoordinator: guards, the current row, the version row, Binary bytes, index rows and
 * the change log, all in one transaction so none of them can exist without the others.
 */
export class ResourceWriter {
  private readonly selectRow: StatementSync;
  private readonly insertResource: StatementSync;
  private readonly updateResource: StatementSync;
  private readonly insertVersion: StatementSync;
  private readonly insertPending: StatementSync;
  private readonly deletePending: StatementSync;
  private readonly selectPending: StatementSync;
  private readonly selectVersionIds: StatementSync;
  private readonly expungeVersions: StatementSync;
  private readonly insertChange: StatementSync;
  private readonly deleteIndex: StatementSync[];
  private readonly insertIndex: Record<IndexValues['kind'], StatementSync>;

  constructor(private readonly store: SqliteStore) {
    const db = store.writer;
    this.selectRow = db.prepare('SELECT rid, version_id AS versionId, deleted, content FROM resource WHERE type = ? AND id = ?');
    this.insertResource = db.prepare(
      'INSERT INTO resource (type, id, version_id, last_updated, deleted, content) VALUES (?, ?, ?, ?, 0, ?)'
    );
    this.updateResource = db.prepare(
      'UPDATE resource SET version_id = ?, last_updated = ?, deleted = ?, content = ? WHERE rid = ?'
    );
    this.insertVersion = db.prepare(
      'INSERT INTO resource_version (rid, version_id, last_updated, deleted, content) VALUES (?, ?, ?, ?, ?)'
    );
    this.insertPending = db.prepare('INSERT OR IGNORE INTO binary_pending (id, since) VALUES (?, ?)');
    this.deletePending = db.prepare('DELETE FROM binary_pending WHERE id = ?');
    this.selectPending = db.prepare('SELECT 1 AS pending FROM binary_pending WHERE id = ?');
    this.selectVersionIds = db.prepare('SELECT version_id AS versionId FROM resource_version WHERE rid = ? AND deleted = 0');
    this.expungeVersions = db.prepare('UPDATE resource_version SET deleted = 1, content = NULL WHERE rid = ?');
    this.insertChange = db.prepare(
      'INSERT INTO change_log (type, id, version_id, interaction, at) VALUES (?, ?, ?, ?, ?) RETURNING seq'
    );
    this.deleteIndex = ['ix_token', 'ix_string', 'ix_reference', 'ix_date', 'ix_number', 'ix_uri'].map((t) =>
      db.prepare(`DELETE FROM ${t} WHERE rid = ?`)
    );
    this.insertIndex = Object.fromEntries(
      Object.entries(INDEX_INSERT_SQL).map(([kind, sql]) => [kind, db.prepare(sql)])
    ) as Record<IndexValues['kind'], StatementSync>;
  }

  current(resourceType: string, id: string): StoredRow | undefined {
    const row = this.selectRow.get(resourceType, id) as
      | { rid: number; versionId: string; deleted: number; content: string }
      | undefined;
    return row && { ...row, deleted: row.deleted === 1 };
  }

  /**
   * Stores `resource` as the new current version. The caller has set id, meta.versionId and
   * meta.lastUpdated; this adds meta.compartment, runs the guards and writes every row.
   */
  put<T extends Resource>(resource: WithId<T>, existing: StoredRow | undefined, previous: Resource | undefined, staged?: StagedFile): WithId<T> {
    // Guards (validation) first: everything after them may assume a well-formed resource.
    for (const guard of this.store.guards) {
      guard(resource, previous);
    }
    resource.meta = { ...resource.meta, compartment: patientCompartments(resource) };
    if (resource.meta.compartment?.length === 0) {
      delete resource.meta.compartment;
    }
    this.checkReferences(resource);
    return this.writeRows(resource, existing, undefined, undefined, staged);
  }

  /**
   * The rows of a version whose guards, compartments and references are already settled (the bulk
   * path checks those for a whole batch at once). `changes` collects the change-log entries for one
   * notification per batch instead of one after-commit hook per resource.
   */
  writeRows<T extends Resource>(
    resource: WithId<T>,
    existing: StoredRow | undefined,
    changes?: CommittedChange[],
    prepared?: { readonly content: string; readonly index: readonly ParamValues[] },
    staged?: StagedFile
  ): WithId<T> {
    const { stored, bytes } = splitBinary(resource);
    // A Binary's prepared JSON (bulk path) still carries `data`; its bytes go to the file instead.
    const content = prepared && !bytes ? prepared.content : stringify(stored);
    const { versionId, lastUpdated } = resource.meta as { versionId: string; lastUpdated: string };
    this.keepContentFile(resource, versionId, staged, bytes);
    let rid: number;
    if (existing) {
      rid = existing.rid;
      this.updateResource.run(versionId, lastUpdated, 0, content, rid);
    } else {
      rid = Number(this.insertResource.run(resource.resourceType, resource.id, versionId, lastUpdated, content).lastInsertRowid);
    }
    this.insertVersion.run(rid, versionId, lastUpdated, 0, content);
    this.trackPendingUpload(resource, existing, lastUpdated);
    // A new row has no index rows to delete: six DELETEs saved per create.
    this.reindex(rid, resource, existing !== undefined, prepared?.index);
    this.logChange(resource.resourceType, resource.id, versionId, existing && !existing.deleted ? 'update' : 'create', changes);
    if (resource.resourceType === 'Binary') {
      // As Medplum answers a Binary write: no echo of the (possibly megabytes of) content, but the
      // URL it is served at, which MedplumClient.createAttachment links to.
      return { ...stored, url: `${this.store.baseUrl}fhir/R4/Binary/${resource.id}` } as WithId<T>;
    }
    return resource;
  }

  /** Marks the resource deleted: a tombstone version, no index rows (so searches skip it). */
  remove(resourceType: string, id: string, existing: StoredRow, versionId: string, lastUpdated: string): void {
    const purge = resourceType === 'Binary' && this.selectPending.get(id) !== undefined;
    const purgedVersions = purge ? (this.selectVersionIds.all(existing.rid) as unknown as { versionId: string }[]) : [];
    this.updateResource.run(versionId, lastUpdated, 1, existing.content, existing.rid);
    if (purge) {
      this.expungeBinaryVersions(id, existing.rid, purgedVersions);
    }
    this.insertVersion.run(existing.rid, versionId, lastUpdated, 1, null);
    for (const stmt of this.deleteIndex) {
      stmt.run(existing.rid);
    }
    this.logChange(resourceType, id, versionId, 'delete');
  }

  /**
   * Deleting an upload that no Media ever claimed (a failed or abandoned intake) expunges it, as
   * Medplum's `$expunge` would: every version becomes a deletion (vread answers 410, history keeps
   * only that it existed) and its content files go once the deletion has committed. Photos of a
   * submission that never became a case are PHI nobody needs. A crash before the files are removed
   * leaves files no live version names, which the start-up sweep removes.
   */
  private expungeBinaryVersions(id: string, rid: number, versions: readonly { versionId: string }[]): void {
    this.deletePending.run(id);
    this.expungeVersions.run(rid);
    const files = versions.map((v) => this.store.binaries.pathOf(id, v.versionId));
    this.store.coordinator.afterCommit(() => files.forEach((path) => this.store.binaries.remove(path)));
  }

  /**
   * A Binary version's bytes go to a content file, durable before this transaction commits: either
   * staged by the caller off the event loop, or written here (bulk import, JSON in a batch path
   * that did not stage). If the write is undone, so is the file.
   */
  private keepContentFile(resource: Resource, versionId: string, staged: StagedFile | undefined, bytes: Uint8Array | undefined): void {
    if (resource.resourceType !== 'Binary' || (!staged && !bytes)) {
      return;
    }
    const file = staged ?? this.store.binaries.stageSync((resource as WithId<Binary>).id, versionId, bytes as Uint8Array);
    file.claimed = true;
    this.store.coordinator.afterRollback(() => this.store.binaries.remove(file.path));
  }

  /**
   * Intake images are uploaded before the case transaction that references them; until a Media
   * naming them commits they are pending, and the reaper (pending-uploads.ts) expunges those left
   * behind by a crash. Both rows change in the same transaction as the resource.
   */
  private trackPendingUpload(resource: Resource, existing: StoredRow | undefined, lastUpdated: string): void {
    if (resource.resourceType === 'Binary' && !existing && isPendingUpload(resource)) {
      this.insertPending.run(resource.id as string, lastUpdated);
      return;
    }
    for (const claimed of claimedBinaryIds(resource)) {
      this.deletePending.run(claimed);
    }
  }

  /**
   * Inside a transaction bundle an entry may reference one created later in the same bundle, so
   * the check waits for the end of the transaction; a single write is checked at once.
   */
  private checkReferences(resource: Resource): void {
    const refs = findLocalReferences(resource, `${this.store.baseUrl}fhir/R4/`);
    if (refs.length === 0) {
      return;
    }
    const exists = (type: string, id: string): boolean => {
      const row = this.selectRow.get(type, id) as { deleted: number } | undefined;
      return row !== undefined && row.deleted === 0;
    };
    if (this.store.coordinator.inExclusive) {
      this.store.coordinator.beforeCommit(() => assertReferencesResolve(refs, exists));
    } else {
      assertReferencesResolve(refs, exists);
    }
  }

  private reindex(rid: number, resource: Resource, hadRows: boolean, prepared?: readonly ParamValues[]): void {
    if (hadRows) {
      for (const stmt of this.deleteIndex) {
        stmt.run(rid);
      }
    }
    for (const { code, values } of prepared ?? indexValuesOf(resource)) {
      const pid = this.store.params.lookup(resource.resourceType, code) as number;
      const stmt = this.insertIndex[values.kind];
      for (const columns of indexRowColumns(values)) {
        stmt.run(pid, ...columns, rid);
      }
    }
  }

  private logChange(resourceType: string, id: string, versionId: string, interaction: CommittedChange['interaction'], batch?: CommittedChange[]): void {
    const { seq } = this.insertChange.get(resourceType, id, versionId, interaction, new Date().toISOString()) as { seq: number };
    const change: CommittedChange = { seq, resourceType, id, versionId, interaction };
    if (batch) {
      batch.push(change);
      return;
    }
    this.store.coordinator.afterCommit(() => this.store.notifyCommitted([change]));
  }
}

/** Server-managed meta (versionId, lastUpdated, compartment) aside, the same content: an update that writes nothing. */
export function sameContent(stored: Resource, incoming: Resource): boolean {
  const strip = (r: Resource): Resource => {
    const { versionId: _v, lastUpdated: _l, compartment: _c, ...meta } = r.meta ?? {};
    return { ...r, meta: Object.keys(meta).length ? meta : undefined } as Resource;
  };
  return deepEquals(strip(stored), strip(incoming));
}

/**
 * Binary content is kept as bytes in a file of its own (binary-files.ts) rather than as base64
 * inside the JSON, so photos cost their real size and JSON reads of other resources never touch them.
 */
export function splitBinary<T extends Resource>(resource: T): { stored: T; bytes?: Uint8Array } {
  if (resource.resourceType !== 'Binary') {
    return { stored: resource };
  }
  const { data, ...rest } = resource as Binary;
  if (data === undefined) {
    return { stored: resource };
  }
  // Buffer.from would silently skip characters that are not base64: checked, cheaply for the
  // common case (a regex pass over a photo's megabytes costs more than decoding it). Whitespace
  // (MIME line breaks) is allowed by FHIR's base64Binary pattern, so a second try without it.
  const bytes = typeof data === 'string' ? (decodePlainBase64(data) ?? decodePlainBase64(data.replace(/\s+/g, ''))) : undefined;
  if (!bytes) {
    throw new OperationOutcomeError(
      badRequest('Binary.data is not valid base64 (RFC 4648 alphabet, padded with = to a multiple of 4 characters)', 'Binary.data')
    );
  }
  return { stored: rest as T, bytes };
}

/**
 * Base64 without whitespace, decoded and checked in one go: 4 characters must give exactly 3 bytes
 * (less the padding), so a character the decoder skipped shows in the length, and unpadded input
 * (which FHIR's base64Binary pattern does not allow) fails the length test. The base64url
 * characters, which the decoder would take, are refused first.
 */
function decodePlainBase64(data: string): Buffer | undefined {
  if (data.length % 4 !== 0 || data.includes('-') || data.includes('_')) {
    return undefined;
  }
  const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
  const bytes = Buffer.from(data, 'base64');
  return bytes.length === (data.length / 4) * 3 - padding ? bytes : undefined;
}
