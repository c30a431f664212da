import type { Filter, SearchRequest, SortRule } from '@medplum/core';
import { Operator, splitSearchOnComma } from '@medplum/core';
import type { DatabaseSync } from 'node:sqlite';
import type { IndexKind } from './index-values';
import { indexedParams, UNINDEXED } from './index-values';
import type { SearchParamRegistry } from './search-param-registry';
import { SORT_COLUMN, TABLE } from './search-sql';

/**
 * A composite search index: one equality parameter (the "driver", a token or reference such as a
 * queue identifier) followed by up to three sort keys, e.g. `Task` / `identifier` /
 * `-priority-order,due-date`. It is what a DBA adds in Postgres for a hot query: SQLite walks
 * `(driver value, k1, k2, k3, rid)` in the requested order and stops after `_count` matches, instead
 * of probing and sorting every resource the driver selects.
 */
export interface CompositeIndexSpec {
  readonly resourceType: string;
  /** Search parameter code of the equality filter that leads the index (token or reference). */
  readonly param: string;
  /** `_sort` value it serves, e.g. `-priority-order,due-date` (1 to 3 search parameter codes). */
  readonly sort: string;
}

/**
 * The review-queue query (one clinic's queue identifier, most urgent first, then by due date; see
 * `queueQuery` in bench/workloads/fixtures.ts). Any other hot "one equality + sort" query is served
 * by adding a line here; nothing in the planner knows Task.
 */
export const DEFAULT_COMPOSITE_INDEXES: readonly CompositeIndexSpec[] = [
  { resourceType: 'Task', param: 'identifier', sort: '-priority-order,due-date' },
];

const MAX_KEYS = 3;
const DRIVER_COLUMNS: Partial<Record<IndexKind, { a: string; b: string }>> = {
  token: { a: 'value', b: "COALESCE(%.system, '')" },
  reference: { a: 'ref', b: "''" },
};

interface SortKey {
  readonly code: string;
  readonly pid: number;
  readonly kind: IndexKind;
  readonly descending: boolean;
}

/** A registered composite index, as the planner needs it. */
export interface CompositeIndex {
  readonly cid: number;
  readonly resourceType: string;
  readonly param: string;
  readonly kind: IndexKind;
  readonly driverPid: number;
  readonly keys: readonly SortKey[];
}

/** How a request is answered from a composite index: its driver values and the remaining filters. */
export interface CompositePlan {
  readonly index: CompositeIndex;
  readonly a: string;
  readonly b: string;
  readonly rest: readonly Filter[];
}

/**
 * Creates (and back-fills) the declared composite indexes, drops undeclared ones, and matches search
 * requests against them. The rows are rebuilt by a trigger on each logged change of the type, so
 * every write path keeps them right, and an existing store gets them on the first open that
 * declares them.
 */
export class CompositeIndexes {
  private readonly indexes: CompositeIndex[] = [];

  constructor(writer: DatabaseSync, params: SearchParamRegistry, specs: readonly CompositeIndexSpec[]) {
    const wanted = new Map<string, Omit<CompositeIndex, 'cid'>>();
    for (const spec of specs) {
      const resolved = resolve(spec, params);
      wanted.set(JSON.stringify({ ...resolved, v: 2 }), resolved);
    }
    writer.exec('BEGIN IMMEDIATE');
    try {
      const existing = writer.prepare('SELECT cid, spec FROM composite_index').all() as { cid: number; spec: string }[];
      for (const row of existing) {
        if (!wanted.has(row.spec)) {
          dropComposite(writer, row.cid);
        }
      }
      for (const [key, resolved] of wanted) {
        const found = existing.find((row) => row.spec === key);
        const cid = found ? found.cid : Number(writer.prepare('INSERT INTO composite_index (spec) VALUES (?)').run(key).lastInsertRowid);
        const index = { ...resolved, cid };
        if (!found) {
          createComposite(writer, index);
        }
        this.indexes.push(index);
      }
      writer.exec('COMMIT');
    } catch (err) {
      writer.exec('ROLLBACK');
      throw err;
    }
  }

  /** The composite index that can answer this request in order, if any. */
  plan(request: SearchRequest): CompositePlan | undefined {
    const sortRules = request.sortRules ?? [];
    for (const index of this.indexes) {
      if (index.resourceType !== request.resourceType || !sameSort(index.keys, sortRules)) {
        continue;
      }
      const filters = request.filters ?? [];
      const at = filters.findIndex((f) => f.code === index.param && f.operator === Operator.EQUALS && driverValue(index.kind, f.value));
      if (at < 0) {
        continue;
      }
      const value = driverValue(index.kind, filters[at].value) as { a: string; b: string };
      return { index, ...value, rest: filters.filter((_, i) => i !== at) };
    }
    return undefined;
  }
}

/** `ORDER BY` over the composite rows aliased `alias`, exactly the order of its walk index. */
export function compositeOrder(index: CompositeIndex, alias: string): string {
  const terms = index.keys.map((k, i) => `${alias}.k${i + 1} ${k.descending ? 'DESC' : 'ASC'}`);
  return [...terms, `${alias}.rid ASC`].join(', ');
}

function resolve(spec: CompositeIndexSpec, params: SearchParamRegistry): Omit<CompositeIndex, 'cid'> {
  const find = (code: string): { pid: number; kind: IndexKind } => {
    const p = indexedParams(spec.resourceType).find((candidate) => candidate.code === code);
    const pid = params.lookup(spec.resourceType, code);
    // `_id` and `_lastUpdated` have no index rows to take a key or a driver value from.
    if (!p || pid === undefined || UNINDEXED.has(code)) {
      throw new TypeError(`Composite index: ${spec.resourceType} has no indexed search parameter "${code}"`);
    }
    return { pid, kind: p.kind };
  };
  const driver = find(spec.param);
  if (!DRIVER_COLUMNS[driver.kind]) {
    throw new TypeError(`Composite index: "${spec.param}" must be a token or reference parameter`);
  }
  const keys = spec.sort.split(',').map((s) => {
    const code = s.trim().replace(/^-/, '');
    return { code, descending: s.trim().startsWith('-'), ...find(code) };
  });
  if (keys.length === 0 || keys.length > MAX_KEYS) {
    throw new TypeError(`Composite index: 1 to ${MAX_KEYS} sort keys, not "${spec.sort}"`);
  }
  return { resourceType: spec.resourceType, param: spec.param, kind: driver.kind, driverPid: driver.pid, keys };
}

/**
 * The stored sort key of one resource: the smallest value for an ascending key, the largest for a
 * descending one (what `_sort` means for repeated values), and a missing value stored so that it
 * sorts last either way (NULL is lowest, a BLOB is above every number and text in SQLite).
 */
function keyExpr(key: SortKey, rid: string): string {
  const expr = `(SELECT ${key.descending ? 'MAX' : 'MIN'}(${SORT_COLUMN[key.kind]}) FROM ${TABLE[key.kind]} s WHERE s.rid = ${rid} AND s.pid = ${key.pid})`;
  return key.descending ? expr : `COALESCE(${expr}, X'')`;
}

function createComposite(db: DatabaseSync, index: CompositeIndex): void {
  const table = TABLE[index.kind];
  const cols = DRIVER_COLUMNS[index.kind] as { a: string; b: string };
  const c = index.cid;
  const keyCols = index.keys.map((_, i) => `k${i + 1}`).join(', ');
  const keyVals = index.keys.map((k) => keyExpr(k, 'd.rid')).join(', ');
  // `plus` ('+') for one resource: SQLite, without statistics, would otherwise look the rows up
  // by (pid, value) and read every resource's driver rows instead of this one's.
  const fill = (rids: string, plus: string): string =>
    `INSERT OR IGNORE INTO ix_composite (cid, a, b, rid, ${keyCols}) ` +
    `SELECT ${c}, d.${cols.a}, ${cols.b.replace('%', 'd')}, d.rid, ${keyVals} FROM ${table} d ` +
    `WHERE ${rids} AND ${plus}d.pid = ${index.driverPid} AND ${plus}d.${cols.a} IS NOT NULL`;
  const walk = index.keys.map((k, i) => `k${i + 1} ${k.descending ? 'DESC' : 'ASC'}`).join(', ');
  db.exec(`CREATE INDEX cx_${c}_walk ON ix_composite (a, b, ${walk}, rid) WHERE cid = ${c}`);
  // Every write path (single writes, bundles, bulk import, deletes) logs a change after it has
  // written the resource's index rows, in the same transaction: one trigger there rebuilds the
  // resource's rows once per write, where triggers on each index row would rewrite them once per
  // sort key row.
  const rid = '(SELECT rid FROM resource WHERE type = NEW.type AND id = NEW.id)';
  db.exec(`
    CREATE TRIGGER cx_${c}_sync AFTER INSERT ON change_log WHEN NEW.type = '${index.resourceType}'
    BEGIN
      DELETE FROM ix_composite WHERE cid = ${c} AND rid = ${rid};
      ${fill(`d.rid = ${rid}`, '+')};
    END;
  `);
  // Back-fill: the store may already hold resources written before this index was declared.
  db.exec(fill('1', ''));
}

function dropComposite(db: DatabaseSync, cid: number): void {
  const objects = db
    .prepare(`SELECT type, name FROM sqlite_master WHERE name LIKE 'cx\\_${cid}\\_%' ESCAPE '\\' AND type IN ('trigger', 'index')`)
    .all() as { type: string; name: string }[];
  for (const { type, name } of objects) {
    db.exec(`DROP ${type.toUpperCase()} ${name}`);
  }
  db.prepare('DELETE FROM ix_composite WHERE cid = ?').run(cid);
  db.prepare('DELETE FROM composite_index WHERE cid = ?').run(cid);
}

function sameSort(keys: readonly SortKey[], rules: readonly SortRule[]): boolean {
  return keys.length === rules.length && keys.every((k, i) => k.code === rules[i].code && k.descending === Boolean(rules[i].descending));
}

/**
 * The (a, b) columns an equality filter selects, when it names exactly one driver value:
 * `system|code` for a token (lower-cased, as indexed), `Type/id` for a reference. Anything else
 * (several values, a bare code, a modifier) is left to the general plan.
 */
function driverValue(kind: IndexKind, raw: string): { a: string; b: string } | undefined {
  const values = splitSearchOnComma(raw);
  if (values.length !== 1) {
    return undefined;
  }
  const value = values[0];
  if (kind === 'token') {
    const bar = value.indexOf('|');
    const system = value.slice(0, bar);
    const code = value.slice(bar + 1);
    return bar > 0 && code ? { a: code.toLowerCase(), b: system.toLowerCase() } : undefined;
  }
  if (kind === 'reference') {
    const parts = value.split('/');
    return parts.length === 2 && parts[0] && parts[1] ? { a: value, b: '' } : undefined;
  }
  return undefined;
}
