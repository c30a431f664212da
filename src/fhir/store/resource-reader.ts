import type { SearchRequest, WithId } from '@medplum/core';
import { formatSearchQuery, gone, notFound, OperationOutcomeError } from '@medplum/core';
import type { Binary, Bundle, BundleEntry, BundleLink, Resource } from '@medplum/fhirtypes';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { pageOffset, pageSize } from './search-sql';
import type { SqliteStore } from './sqlite-store';

/**
 * Reads bound to one connection: the shared reader connection outside transactions (committed
 * data only), or the writer inside one (so a transaction sees its own writes).
 */
export class ResourceReader {
  private readonly selectCurrent: StatementSync;
  private readonly selectVersion: StatementSync;
  private readonly selectHistory: StatementSync;
  private readonly selectBinary: StatementSync;
  /** Search SQL differs only by filter shape, so a small cache skips most re-preparation. */
  private readonly statements = new Map<string, StatementSync>();

  constructor(
    private readonly store: SqliteStore,
    private readonly db: DatabaseSync
  ) {
    this.selectCurrent = db.prepare('SELECT rid, version_id, deleted, content FROM resource WHERE type = ? AND id = ?');
    this.selectVersion = db.prepare(
      'SELECT v.rid, v.version_id, v.deleted, v.content FROM resource r JOIN resource_version v ON v.rid = r.rid ' +
        'WHERE r.type = ? AND r.id = ? AND v.version_id = ?'
    );
    this.selectHistory = db.prepare(
      'SELECT v.rid, v.version_id, v.last_updated, v.deleted, v.content FROM resource r JOIN resource_version v ON v.rid = r.rid ' +
        'WHERE r.type = ? AND r.id = ? ORDER BY v.seq DESC LIMIT ? OFFSET ?'
    );
    this.selectBinary = db.prepare('SELECT bytes FROM binary_content WHERE rid = ? AND version_id = ?');
  }

  read<T extends Resource>(resourceType: string, id: string): WithId<T> {
    const row = this.selectCurrent.get(resourceType, id) as Row | undefined;
    if (!row) {
      throw new OperationOutcomeError(notFound);
    }
    if (row.deleted) {
      throw new OperationOutcomeError(gone);
    }
    return this.materialize<T>(resourceType, row);
  }

  readVersion<T extends Resource>(resourceType: string, id: string, versionId: string): WithId<T> {
    const row = this.selectVersion.get(resourceType, id, versionId) as Row | undefined;
    if (!row || row.deleted || !row.content) {
      throw new OperationOutcomeError(row?.deleted ? gone : notFound);
    }
    return this.materialize<T>(resourceType, row);
  }

  history<T extends Resource>(resourceType: string, id: string, offset = 0, limit = 100): Bundle<WithId<T>> {
    if (!this.selectCurrent.get(resourceType, id)) {
      throw new OperationOutcomeError(notFound);
    }
    const rows = this.selectHistory.all(resourceType, id, Math.min(limit, 1000), offset) as unknown as (Row & { last_updated: string })[];
    const entry: BundleEntry<WithId<T>>[] = rows.map((row) =>
      row.deleted
        ? {
            request: { method: 'DELETE', url: `${resourceType}/${id}` },
            response: { status: '410', lastModified: row.last_updated, etag: `W/"${row.version_id}"` },
          }
        : { fullUrl: this.fullUrl(resourceType, id), resource: this.materialize<T>(resourceType, row) }
    );
    return { resourceType: 'Bundle', type: 'history', entry };
  }

  /** Raw bytes of a Binary version, for `GET Binary/<id>` with a non-FHIR Accept header. */
  binaryBytes(id: string): { contentType: string; bytes: Uint8Array } {
    const row = this.selectCurrent.get('Binary', id) as Row | undefined;
    if (!row || row.deleted) {
      throw new OperationOutcomeError(row ? gone : notFound);
    }
    const binary = JSON.parse(row.content as string) as Binary;
    const blob = this.selectBinary.get(row.rid, row.version_id) as { bytes: Uint8Array } | undefined;
    return { contentType: binary.contentType ?? 'application/octet-stream', bytes: blob?.bytes ?? new Uint8Array() };
  }

  search<T extends Resource>(request: SearchRequest<T>): Bundle<WithId<T>> {
    const types = request.types?.length ? request.types : [request.resourceType];
    if (types.length > 1) {
      return this.searchMultipleTypes(request, types);
    }
    const count = pageSize(request);
    const offset = pageOffset(request);
    const where = this.store.sql.where(request.resourceType, request.filters ?? [], 'r');
    const order = this.store.sql.orderBy(request.resourceType, request.sortRules, 'r');
    // One extra row tells whether there is a next page without counting everything.
    const rows = this.prepare(`SELECT r.rid, r.version_id, r.deleted, r.content FROM resource r WHERE ${where.sql} ORDER BY ${order.sql} LIMIT ? OFFSET ?`)
      .all(...where.args, ...order.args, count + 1, offset) as unknown as Row[];
    const hasNext = rows.length > count;
    const entry = rows.slice(0, count).map((row) => {
      const resource = this.materialize<T>(request.resourceType, row);
      return { fullUrl: this.fullUrl(resource.resourceType, resource.id), search: { mode: 'match' as const }, resource };
    });
    const bundle: Bundle<WithId<T>> = { resourceType: 'Bundle', type: 'searchset', entry, link: this.links(request, offset, count, hasNext) };
    if (request.total === 'accurate' || request.total === 'estimate') {
      const { n } = this.prepare(`SELECT COUNT(*) AS n FROM resource r WHERE ${where.sql}`).get(...where.args) as { n: number };
      bundle.total = n;
    }
    return bundle;
  }

  fullUrl(resourceType: string, id: string): string {
    return `${this.store.baseUrl}fhir/R4/${resourceType}/${id}`;
  }

  private searchMultipleTypes<T extends Resource>(request: SearchRequest<T>, types: string[]): Bundle<WithId<T>> {
    const entry: BundleEntry<WithId<T>>[] = [];
    for (const resourceType of types) {
      const page = this.search({ ...request, resourceType, types: undefined, offset: 0 } as SearchRequest<T>);
      entry.push(...(page.entry ?? []));
    }
    return { resourceType: 'Bundle', type: 'searchset', entry: entry.slice(0, pageSize(request)) };
  }

  private links(request: SearchRequest, offset: number, count: number, hasNext: boolean): BundleLink[] {
    const base = `${this.store.baseUrl}fhir/R4/${request.resourceType}`;
    const at = (o: number): string => base + formatSearchQuery({ ...request, offset: o, count });
    const links: BundleLink[] = [{ relation: 'self', url: at(offset) }, { relation: 'first', url: at(0) }];
    if (hasNext) {
      links.push({ relation: 'next', url: at(offset + count) });
    }
    if (offset > 0) {
      links.push({ relation: 'previous', url: at(Math.max(0, offset - count)) });
    }
    return links;
  }

  private prepare(sql: string): StatementSync {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      if (this.statements.size >= 500) {
        this.statements.clear();
      }
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  private materialize<T extends Resource>(resourceType: string, row: Row): WithId<T> {
    const resource = JSON.parse(row.content as string) as WithId<T>;
    if (resourceType === 'Binary') {
      // Where the raw bytes are served (Medplum puts a storage URL here; attachments point at it).
      (resource as Binary).url = this.fullUrl('Binary', resource.id);
      const blob = this.selectBinary.get(row.rid, row.version_id) as { bytes: Uint8Array } | undefined;
      if (blob) {
        (resource as Binary).data = Buffer.from(blob.bytes).toString('base64');
      }
    }
    return resource;
  }
}

interface Row {
  rid: number;
  version_id: string;
  deleted: number;
  content: string | null;
}
