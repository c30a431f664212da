import type { SearchRequest, WithId } from '@medplum/core';
import { formatSearchQuery, gone, notFound, OperationOutcomeError } from '@medplum/core';
import type { Binary, Bundle, BundleEntry, BundleLink, Resource } from '@medplum/fhirtypes';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { compositeOrder } from './composite-index';
import type { SqlFragment } from './search-sql';
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

  /**
   * The current Binary (without `data`) and where its bytes are, for `GET Binary/<id>` with a
   * non-FHIR Accept header: the route streams the file instead of base64 through the heap.
   */
  binaryContent(id: string): BinaryContent {
    const row = this.selectCurrent.get('Binary', id) as Row | undefined;
    if (!row || row.deleted) {
      throw new OperationOutcomeError(row ? gone : notFound);
    }
    const binary = JSON.parse(row.content as string) as WithId<Binary>;
    const size = this.store.binaries.sizeOf(id, row.version_id);
    return {
      binary,
      contentType: binary.contentType ?? 'application/octet-stream',
      path: size === undefined ? undefined : this.store.binaries.pathOf(id, row.version_id),
      size: size ?? 0,
    };
  }

  search<T extends Resource>(request: SearchRequest<T>): Bundle<WithId<T>> {
    const types = request.types?.length ? request.types : [request.resourceType];
    if (types.length > 1) {
      return this.searchMultipleTypes(request, types);
    }
    const count = pageSize(request);
    const offset = pageOffset(request);
    const where = this.store.sql.where(request.resourceType, request.filters ?? [], 'r');
    // One extra row tells whether there is a next page without counting everything.
    const rows = this.pageRows(request, where, count + 1, offset);
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

  private pageRows(request: SearchRequest, where: SqlFragment, limit: number, offset: number): Row[] {
    const window = windowQuery(this.store, this.db, request, limit, offset);
    if (window) {
      const rows = this.prepare(window.sql).all(...window.args) as unknown as Row[];
      // Enough matches among the newest (oldest) rows: they are the page. Otherwise the filters
      // are rarer than they looked, and the general plan answers.
      if (rows.length === limit) {
        return rows;
      }
    }
    const query = pageQuery(this.store, request, where, limit, offset);
    return this.prepare(query.sql).all(...query.args) as unknown as Row[];
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
      const bytes = this.store.binaries.read(resource.id, row.version_id);
      if (bytes) {
        (resource as Binary).data = bytes.toString('base64');
      }
    }
    return resource;
  }
}

/** A Binary's metadata and its content file (none when the Binary has no data). */
export interface BinaryContent {
  readonly binary: WithId<Binary>;
  readonly contentType: string;
  readonly path?: string;
  readonly size: number;
}

interface Row {
  rid: number;
  version_id: string;
  deleted: number;
  content: string | null;
}

/**
 * The SQL of one search page. A composite index that leads with one of the filters and has exactly
 * the requested sort is walked in order, the other filters checked per row, so the walk stops after
 * `limit` matches; otherwise the most selective filter drives and the matches are sorted. Both give
 * the same rows in the same order (test/fhir/store/composite-index.test.ts).
 */
export function pageQuery(store: SqliteStore, request: SearchRequest, where: SqlFragment, limit: number, offset: number): SqlFragment {
  const plan = store.composites.plan(request);
  if (plan) {
    const rest = store.sql.where(request.resourceType, plan.rest, 'r', false);
    return {
      sql:
        'SELECT r.rid, r.version_id, r.deleted, r.content FROM ix_composite c CROSS JOIN resource r ON r.rid = c.rid ' +
        `WHERE c.cid = ${plan.index.cid} AND c.a = ? AND c.b = ? AND ${rest.sql} ORDER BY ${compositeOrder(plan.index, 'c')} LIMIT ? OFFSET ?`,
      args: [plan.a, plan.b, ...rest.args, limit, offset],
    };
  }
  const order = store.sql.orderBy(request.resourceType, request.sortRules, 'r');
  return {
    sql: `SELECT r.rid, r.version_id, r.deleted, r.content FROM resource r WHERE ${where.sql} ORDER BY ${order.sql} LIMIT ? OFFSET ?`,
    args: [...where.args, ...order.args, limit, offset],
  };
}

/**
 * `_sort=(-)_lastUpdated` with filters that match many resources (`Task?status=requested`): the
 * general plan would fetch and sort every match to return the newest few. This walks the
 * (type, last_updated) index instead, over at most `store.sortWindowRows` rows of the type, checking
 * the filters per row. Those rows are a prefix of the requested order, so if they hold `limit`
 * matches after `offset`, those are exactly the page; the caller falls back to the general plan if
 * not, so a rarer filter than expected costs one bounded walk more, never a wrong page.
 * Undefined when it does not apply: another sort, a deep page, a small type, or a driving filter
 * that selects so few rows (fewer than a tenth of the window, counted in its index) that sorting
 * them is cheaper.
 */
export function windowQuery(store: SqliteStore, db: DatabaseSync, request: SearchRequest, limit: number, offset: number): SqlFragment | undefined {
  const rules = request.sortRules ?? [];
  const windowRows = store.sortWindowRows;
  const filters = request.filters ?? [];
  if (rules.length !== 1 || rules[0].code !== '_lastUpdated' || filters.length === 0 || (offset + limit) * 4 > windowRows) {
    return undefined;
  }
  const lookup = store.sql.driverLookup(request.resourceType, filters);
  const few = Math.ceil(windowRows / 10);
  if (!lookup || (db.prepare(`SELECT COUNT(*) AS n FROM (${lookup.sql} LIMIT ?)`).get(...lookup.args, few) as { n: number }).n < few) {
    return undefined;
  }
  const desc = Boolean(rules[0].descending);
  const bound = db
    .prepare(`SELECT last_updated AS at FROM resource WHERE type = ? ORDER BY last_updated ${desc ? 'DESC' : 'ASC'} LIMIT 1 OFFSET ?`)
    .get(request.resourceType, windowRows) as { at: string } | undefined;
  if (!bound) {
    return undefined;
  }
  const where = store.sql.where(request.resourceType, filters, 'r', false);
  const order = store.sql.orderBy(request.resourceType, rules, 'r');
  return {
    sql:
      'SELECT r.rid, r.version_id, r.deleted, r.content FROM resource r INDEXED BY resource_type_updated ' +
      `WHERE ${where.sql} AND r.last_updated ${desc ? '>=' : '<='} ? ORDER BY ${order.sql} LIMIT ? OFFSET ?`,
    args: [...where.args, bound.at, ...order.args, limit, offset],
  };
}
