import { OperationOutcomeError, badRequest, stringify } from '@medplum/core';
import type { Binary, Resource } from '@medplum/fhirtypes';
import type { StatementSync } from 'node:sqlite';
import type { IndexValues } from './index-values';
import { extractIndexValues, indexedParams } from './index-values';
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
  private readonly insertBinary: StatementSync;
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
    this.insertBinary = db.prepare('INSERT INTO binary_content (rid, version_id, bytes) VALUES (?, ?, ?)');
    this.insertChange = db.prepare(
      'INSERT INTO change_log (type, id, version_id, interaction, at) VALUES (?, ?, ?, ?, ?) RETURNING seq'
    );
    this.deleteIndex = ['ix_token', 'ix_string', 'ix_reference', 'ix_date', 'ix_number', 'ix_uri'].map((t) =>
      db.prepare(`DELETE FROM ${t} WHERE rid = ?`)
    );
    this.insertIndex = {
      token: db.prepare('INSERT INTO ix_token (pid, value, system, rid) VALUES (?, ?, ?, ?)'),
      string: db.prepare('INSERT INTO ix_string (pid, norm, raw, rid) VALUES (?, ?, ?, ?)'),
      reference: db.prepare('INSERT INTO ix_reference (pid, ref, ref_id, rid) VALUES (?, ?, ?, ?)'),
      date: db.prepare('INSERT INTO ix_date (pid, lo, hi, rid) VALUES (?, ?, ?, ?)'),
      number: db.prepare('INSERT INTO ix_number (pid, lo, hi, system, unit, rid) VALUES (?, ?, ?, ?, ?, ?)'),
      uri: db.prepare('INSERT INTO ix_uri (pid, value, rid) VALUES (?, ?, ?)'),
    };
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
  put<T extends Resource>(resource: WithId<T>, existing: StoredRow | undefined, previous: Resource | undefined): WithId<T> {
    // Guards (validation) first: everything after them may assume a well-formed resource.
    for (const guard of this.store.guards) {
      guard(resource, previous);
    }
    resource.meta = { ...resource.meta, compartment: patientCompartments(resource) };
    if (resource.meta.compartment?.length === 0) {
      delete resource.meta.compartment;
    }
    this.checkReferences(resource);
    const { stored, bytes } = splitBinary(resource);
    const content = stringify(stored);
    const { versionId, lastUpdated } = resource.meta as { versionId: string; lastUpdated: string };
    let rid: number;
    if (existing) {
      rid = existing.rid;
      this.updateResource.run(versionId, lastUpdated, 0, content, rid);
    } else {
      rid = Number(this.insertResource.run(resource.resourceType, resource.id, versionId, lastUpdated, content).lastInsertRowid);
    }
    this.insertVersion.run(rid, versionId, lastUpdated, 0, content);
    if (bytes) {
      this.insertBinary.run(rid, versionId, bytes);
    }
    this.reindex(rid, resource);
    this.logChange(resource.resourceType, resource.id, versionId, existing && !existing.deleted ? 'update' : 'create');
    if (resource.resourceType === 'Binary') {
      // As Medplum answers a Binary write: no echo of the (possibly megabytes of) content, but the
      // URL it is served at, which MedplumClient.createAttachment links to.
      return { ...stored, url: `${this.store.baseUrl}fhir/R4/Binary/${resource.id}` } as WithId<T>;
    }
    return resource;
  }

  /** Marks the resource deleted: a tombstone version, no index rows (so searches skip it). */
  remove(resourceType: string, id: string, existing: StoredRow, versionId: string, lastUpdated: string): void {
    this.updateResource.run(versionId, lastUpdated, 1, existing.content, existing.rid);
    this.insertVersion.run(existing.rid, versionId, lastUpdated, 1, null);
    for (const stmt of this.deleteIndex) {
      stmt.run(existing.rid);
    }
    this.logChange(resourceType, id, versionId, 'delete');
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

  private reindex(rid: number, resource: Resource): void {
    for (const stmt of this.deleteIndex) {
      stmt.run(rid);
    }
    for (const p of indexedParams(resource.resourceType)) {
      const values = extractIndexValues(resource, p);
      if (!values) {
        continue;
      }
      const pid = this.store.params.lookup(resource.resourceType, p.code) as number;
      const stmt = this.insertIndex[values.kind];
      switch (values.kind) {
        case 'token':
          values.rows.forEach((r) => stmt.run(pid, r.value, r.system, rid));
          break;
        case 'string':
          values.rows.forEach((r) => stmt.run(pid, r.norm, r.raw, rid));
          break;
        case 'reference':
          values.rows.forEach((r) => stmt.run(pid, r.ref, r.refId, rid));
          break;
        case 'date':
          values.rows.forEach((r) => stmt.run(pid, r.lo, r.hi, rid));
          break;
        case 'number':
          values.rows.forEach((r) => stmt.run(pid, r.lo, r.hi, r.system, r.unit, rid));
          break;
        case 'uri':
          values.rows.forEach((r) => stmt.run(pid, r.value, rid));
          break;
      }
    }
  }

  private logChange(resourceType: string, id: string, versionId: string, interaction: CommittedChange['interaction']): void {
    const { seq } = this.insertChange.get(resourceType, id, versionId, interaction, new Date().toISOString()) as { seq: number };
    const change: CommittedChange = { seq, resourceType, id, versionId, interaction };
    this.store.coordinator.afterCommit(() => this.store.notifyCommitted([change]));
  }
}

/**
 * Binary content is kept as bytes in its own table rather than as base64 inside the JSON, so
 * photos cost their real size and JSON reads of other resources never touch them.
 */
function splitBinary<T extends Resource>(resource: T): { stored: T; bytes?: Uint8Array } {
  if (resource.resourceType !== 'Binary') {
    return { stored: resource };
  }
  const { data, ...rest } = resource as Binary;
  if (data === undefined) {
    return { stored: resource };
  }
  // One linear pass: Buffer.from would silently skip characters that are not base64.
  if (typeof data !== 'string' || !BASE64.test(data)) {
    throw new OperationOutcomeError(badRequest('Binary.data is not valid base64', 'Binary.data'));
  }
  return { stored: rest as T, bytes: Buffer.from(data, 'base64') };
}

const BASE64 = /^[A-Za-z0-9+/\r\n]*={0,2}[\r\n]*$/;
