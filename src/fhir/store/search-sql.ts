import type { Filter, SearchRequest, SortRule } from '@medplum/core';
import { badRequest, OperationOutcomeError, Operator, splitSearchOnComma, toPeriod } from '@medplum/core';
import type { SQLInputValue } from 'node:sqlite';
import type { IndexKind } from './index-values';
import { indexedParams, normalizeString } from './index-values';
import type { SearchParamRegistry } from './search-param-registry';

/** A WHERE clause fragment over `resource` rows aliased by `alias`, with its bound values. */
export interface SqlFragment {
  readonly sql: string;
  readonly args: SQLInputValue[];
}

export const TABLE: Record<IndexKind, string> = {
  token: 'ix_token',
  string: 'ix_string',
  reference: 'ix_reference',
  date: 'ix_date',
  number: 'ix_number',
  quantity: 'ix_number',
  uri: 'ix_uri',
};

/**
 * The (rid, ...) index of each table: a probe names it, because without statistics SQLite has been
 * seen to answer a correlated probe by scanning the (pid, ...) index, all rows of the parameter,
 * once per candidate.
 */
const RID_INDEX: Record<IndexKind, string> = {
  token: 'ix_token_sort',
  string: 'ix_string_sort',
  reference: 'ix_reference_rid',
  date: 'ix_date_sort',
  number: 'ix_number_sort',
  quantity: 'ix_number_sort',
  uri: 'ix_uri_rid',
};

export const SORT_COLUMN: Record<IndexKind, string> = {
  token: 's.value',
  string: 's.norm',
  reference: 's.ref',
  // A period with only an end (a due date) sorts by its end, not by the open start '0000'.
  date: "CASE WHEN s.lo = '0000' THEN s.hi ELSE s.lo END",
  number: 's.lo',
  quantity: 's.lo',
  uri: 's.value',
};

function sortColumn(kind: IndexKind): string {
  return SORT_COLUMN[kind];
}

/**
 * Translates FHIR search into SQL over the index tables. Each filter becomes
 * `alias.rid IN (index lookup)`, so SQLite answers it from an index; a chained parameter
 * (`subject:Patient.identifier=x`) becomes a lookup nested inside the reference lookup. The
 * comparisons reproduce `matchesSearchRequest` from @medplum/core (lower-cased tokens, period
 * overlap for dates) so results equal what Medplum's own matcher would return.
 * See https://hl7.org/fhir/R4/search.html
 */
export class SearchSqlBuilder {
  constructor(
    private readonly params: SearchParamRegistry,
    private readonly baseUrl: string
  ) {}

  /**
   * WHERE conditions (ANDed) for all filters of a request against resources aliased `alias`.
   * The most selective-looking filter drives the query as `rid IN (index lookup)`; every other
   * one is a correlated EXISTS probe on its (rid, pid) index. Materializing each lookup instead
   * would read every Task with status=requested just to intersect it with one clinic's queue.
   */
  where(resourceType: string, filters: readonly Filter[], alias: string, drive = true): SqlFragment {
    const pieces = filters.map((filter) => this.filter(resourceType, filter, alias));
    // With a driving lookup, the unary `+` keeps SQLite from driving by the (type) index instead,
    // which would visit every resource of the type. Without one (`drive` false: the caller walks
    // another index), every filter is a probe.
    const driver = drive ? pieces.filter((p) => p.drive !== undefined).sort((a, b) => a.rank - b.rank)[0] : undefined;
    const parts: string[] = [driver ? `+${alias}.type = ?` : `${alias}.type = ?`, `${alias}.deleted = 0`];
    const args: SQLInputValue[] = [resourceType];
    for (const piece of pieces) {
      const frag = piece === driver ? (piece.drive as SqlFragment) : piece.probe;
      parts.push(frag.sql);
      args.push(...frag.args);
    }
    return { sql: parts.join(' AND '), args };
  }

  /**
   * The index lookup (`SELECT rid ...`) of the filter that would drive `where`, so a caller can
   * count how many rows it selects; undefined when no plain filter could drive (only chains,
   * `_id`, negations, `:missing`).
   */
  driverLookup(resourceType: string, filters: readonly Filter[]): SqlFragment | undefined {
    const pieces = filters.map((filter) => this.filter(resourceType, filter, 'r'));
    return pieces.filter((p) => p.drive !== undefined).sort((a, b) => a.rank - b.rank)[0]?.lookup;
  }

  /** ORDER BY terms; the rid tie-breaker keeps paging stable. */
  orderBy(resourceType: string, sortRules: readonly SortRule[] | undefined, alias: string): SqlFragment {
    const terms: string[] = [];
    const args: SQLInputValue[] = [];
    for (const rule of sortRules ?? []) {
      const dir = rule.descending ? 'DESC' : 'ASC';
      if (rule.code === '_lastUpdated') {
        terms.push(`${alias}.last_updated ${dir}`);
        continue;
      }
      if (rule.code === '_id') {
        terms.push(`${alias}.id ${dir}`);
        continue;
      }
      const { pid, kind } = this.param(resourceType, rule.code);
      const agg = rule.descending ? 'MAX' : 'MIN';
      const expr = `(SELECT ${agg}(${sortColumn(kind)}) FROM ${TABLE[kind]} s WHERE s.rid = ${alias}.rid AND s.pid = ?)`;
      // Resources without a value sort last in either direction; one term, so the key is looked
      // up once per row (`expr IS NULL, expr` would run the subquery twice).
      terms.push(`${expr} ${dir} NULLS LAST`);
      args.push(pid);
    }
    terms.push(`${alias}.rid ASC`);
    return { sql: terms.join(', '), args };
  }

  private filter(resourceType: string, filter: Filter, alias: string): FilterPiece {
    if (filter.code === '_id') {
      const frag = this.idFilter(filter, alias);
      return { probe: frag, rank: 0 };
    }
    if (filter.code === '_lastUpdated') {
      return this.lastUpdatedFilter(resourceType, filter, alias);
    }
    const dot = filter.code.indexOf('.');
    if (dot > 0) {
      const frag = this.chainFilter(resourceType, filter, dot, alias);
      return { probe: frag, drive: frag, rank: 2 };
    }
    const [code, targetType] = filter.code.split(':');
    const { pid, kind } = this.param(resourceType, code);
    const table = TABLE[kind];
    const probe = (cond: string, condArgs: SQLInputValue[], negated: boolean): SqlFragment => ({
      // `+(...)`: one seek on (rid, pid), then the few values of that resource are compared; left
      // to itself SQLite seeks once per OR/IN value, which costs more for the usual 1-3 values.
      sql: `${negated ? 'NOT ' : ''}EXISTS (SELECT 1 FROM ${table} x INDEXED BY ${RID_INDEX[kind]} WHERE x.rid = ${alias}.rid AND x.pid = ?${cond ? ` AND +(${cond})` : ''})`,
      args: [pid, ...condArgs],
    });
    if (filter.operator === Operator.MISSING || filter.operator === Operator.PRESENT) {
      const wantPresent = (filter.operator === Operator.PRESENT) === (filter.value === 'true');
      return { probe: probe('', [], !wantPresent), rank: 9 };
    }
    const negated = filter.operator === Operator.NOT || filter.operator === Operator.NOT_EQUALS;
    const ors: string[] = [];
    const condArgs: SQLInputValue[] = [];
    for (const value of splitSearchOnComma(filter.value)) {
      const frag = this.valueCondition(kind, filter, value, targetType);
      ors.push(frag.sql);
      condArgs.push(...frag.args);
    }
    const cond = ors.join(' OR ');
    if (negated) {
      return { probe: probe(cond, condArgs, true), rank: 9 };
    }
    const lookup = { sql: `SELECT rid FROM ${table} WHERE pid = ? AND (${cond})`, args: [pid, ...condArgs] };
    return {
      probe: probe(cond, condArgs, false),
      drive: { sql: `${alias}.rid IN (${lookup.sql})`, args: lookup.args },
      lookup,
      rank: selectivityRank(code, kind, filter),
    };
  }

  private valueCondition(kind: IndexKind, filter: Filter, value: string, targetType: string | undefined): SqlFragment {
    switch (kind) {
      case 'token':
        return tokenCondition(filter, value);
      case 'string':
        return stringCondition(filter, value);
      case 'reference':
        return this.referenceCondition(filter, value, targetType);
      case 'date':
        return dateCondition(filter, value);
      case 'number':
      case 'quantity':
        return numberCondition(filter, value);
      case 'uri':
        return uriCondition(filter, value);
    }
  }

  private referenceCondition(filter: Filter, value: string, targetType: string | undefined): SqlFragment {
    if (filter.operator === Operator.IDENTIFIER) {
      return { sql: 'ref = ?', args: ['identifier:' + value] };
    }
    assertOperator(filter, [Operator.EQUALS, Operator.NOT, Operator.NOT_EQUALS]);
    let ref = value;
    const fhirBase = this.baseUrl + 'fhir/R4/';
    if (ref.startsWith(fhirBase)) {
      ref = ref.slice(fhirBase.length);
    }
    if (!ref.includes('/') && targetType) {
      ref = targetType + '/' + ref;
    }
    return ref.includes('/') ? { sql: 'ref = ?', args: [ref] } : { sql: 'ref_id = ?', args: [ref] };
  }

  private idFilter(filter: Filter, alias: string): SqlFragment {
    assertOperator(filter, [Operator.EQUALS, Operator.NOT, Operator.NOT_EQUALS]);
    const ids = splitSearchOnComma(filter.value);
    const negated = filter.operator !== Operator.EQUALS;
    return { sql: `${alias}.id ${negated ? 'NOT ' : ''}IN (${ids.map(() => '?').join(', ')})`, args: ids };
  }

  /**
   * `_lastUpdated` on the resource row's own column (an instant, so lo = hi = last_updated, always
   * the server's `toISOString()`), with the same period comparisons as every date parameter: the
   * store writes no index rows for it (bulk-prepare.ts UNINDEXED).
   */
  private lastUpdatedFilter(resourceType: string, filter: Filter, alias: string): FilterPiece {
    if (filter.operator === Operator.MISSING || filter.operator === Operator.PRESENT) {
      const wantPresent = (filter.operator === Operator.PRESENT) === (filter.value === 'true');
      return { probe: { sql: wantPresent ? '1' : '0', args: [] }, rank: 9 };
    }
    const on = (column: string): SqlFragment => {
      const ors = splitSearchOnComma(filter.value).map((value) => dateCondition(filter, value, column, column));
      return { sql: ors.map((o) => o.sql).join(' OR '), args: ors.flatMap((o) => o.args) };
    };
    const cond = on(`${alias}.last_updated`);
    if (filter.operator === Operator.NOT || filter.operator === Operator.NOT_EQUALS) {
      return { probe: { sql: `NOT (${cond.sql})`, args: cond.args }, rank: 9 };
    }
    const own = on('last_updated');
    const lookup = {
      sql: `SELECT rid FROM resource INDEXED BY resource_type_updated WHERE type = ? AND (${own.sql})`,
      args: [resourceType, ...own.args],
    };
    return {
      probe: { sql: `(${cond.sql})`, args: cond.args },
      drive: { sql: `${alias}.rid IN (${lookup.sql})`, args: lookup.args },
      lookup,
      rank: selectivityRank('_lastUpdated', 'date', filter),
    };
  }

  /** `param[:Type].rest=value`: resources whose `param` references a `Type` matching `rest=value`. */
  private chainFilter(resourceType: string, filter: Filter, dot: number, alias: string): SqlFragment {
    const [code, explicitType] = filter.code.slice(0, dot).split(':');
    const { pid, kind, targets } = this.param(resourceType, code);
    if (kind !== 'reference') {
      throw new OperationOutcomeError(badRequest(`Chained search needs a reference parameter, "${code}" is not one`));
    }
    const targetType = explicitType ?? (targets.length === 1 ? targets[0] : undefined);
    if (!targetType) {
      throw new OperationOutcomeError(
        badRequest(`Chained parameter "${code}" can reference several types; name one, e.g. ${code}:${targets[0]}.`)
      );
    }
    const innerAlias = alias + 'c';
    const inner = this.where(targetType, [{ ...filter, code: filter.code.slice(dot + 1) }], innerAlias);
    return {
      sql:
        `${alias}.rid IN (SELECT x.rid FROM ix_reference x WHERE x.pid = ? AND x.ref IN ` +
        `(SELECT ${innerAlias}.type || '/' || ${innerAlias}.id FROM resource ${innerAlias} WHERE ${inner.sql}))`,
      args: [pid, ...inner.args],
    };
  }

  private param(resourceType: string, code: string): { pid: number; kind: IndexKind; targets: string[] } {
    const p = indexedParams(resourceType).find((candidate) => candidate.code === code);
    const pid = p && this.params.lookup(resourceType, code);
    if (!p || pid === undefined) {
      throw new OperationOutcomeError(badRequest(`Unknown search parameter "${code}" for ${resourceType}`));
    }
    return { pid, kind: p.kind, targets: (p.param.target ?? []) as string[] };
  }
}

/** One filter, as a correlated probe and (when it can) as a driving index lookup. */
interface FilterPiece {
  readonly probe: SqlFragment;
  readonly drive?: SqlFragment;
  /** The index lookup `drive` tests membership in, for a plain filter (not a chain). */
  readonly lookup?: SqlFragment;
  /** Lower drives first: a guess at selectivity, since SQLite cannot estimate IN-subquery sizes. */
  readonly rank: number;
}

/**
 * Identifiers and references name one or a few resources; dates and strings usually match more;
 * status-like codes match a large share of a type. Lower is more selective.
 */
function selectivityRank(code: string, kind: IndexKind, filter: Filter): number {
  if (code === 'identifier' || code.endsWith('-identifier')) {
    return 1;
  }
  switch (kind) {
    case 'reference':
      return 2;
    case 'uri':
    case 'string':
      return filter.operator === Operator.CONTAINS ? 6 : 3;
    case 'date':
    case 'number':
    case 'quantity':
      return 5;
    default:
      return 4;
  }
}

function tokenCondition(filter: Filter, value: string): SqlFragment {
  assertOperator(filter, [Operator.EQUALS, Operator.NOT, Operator.NOT_EQUALS]);
  const bar = value.indexOf('|');
  if (bar < 0) {
    return { sql: 'value = ?', args: [value.toLowerCase()] };
  }
  const system = value.slice(0, bar).toLowerCase();
  const code = value.slice(bar + 1).toLowerCase();
  if (!system && !code) {
    return { sql: '0', args: [] };
  }
  if (!system) {
    return { sql: '(system IS NULL AND value = ?)', args: [code] };
  }
  return code ? { sql: '(value = ? AND system = ?)', args: [code, system] } : { sql: 'system = ?', args: [system] };
}

function stringCondition(filter: Filter, value: string): SqlFragment {
  const norm = escapeLike(normalizeString(value));
  switch (filter.operator) {
    case Operator.EXACT:
      return { sql: 'raw = ?', args: [value] };
    case Operator.CONTAINS:
      return { sql: "norm LIKE ? ESCAPE '\\'", args: ['%' + norm + '%'] };
    case Operator.EQUALS:
    case Operator.NOT:
    case Operator.NOT_EQUALS:
      // FHIR string search: starts-with, case- and accent-insensitive. Applied per word too, so
      // that "smi" finds "John Smith" whatever part of the name it is.
      return { sql: "(norm LIKE ? ESCAPE '\\' OR norm LIKE ? ESCAPE '\\')", args: [norm + '%', '% ' + norm + '%'] };
    default:
      throw unsupportedModifier(filter);
  }
}

function dateCondition(filter: Filter, value: string, lo = 'lo', hi = 'hi'): SqlFragment {
  const period = toPeriod(value);
  if (!period?.start || !period.end) {
    throw new OperationOutcomeError(badRequest(`Invalid date "${value}" for search parameter "${filter.code}"`));
  }
  const { start, end } = period;
  // The same period comparisons as @medplum/core matchesDateValue.
  switch (filter.operator) {
    case Operator.EQUALS:
    case Operator.APPROXIMATELY:
    case Operator.NOT_EQUALS:
      return { sql: `(${lo} < ? AND ${hi} > ?)`, args: [end, start] };
    case Operator.LESS_THAN:
      return { sql: `${lo} < ?`, args: [start] };
    case Operator.GREATER_THAN:
      return { sql: `${hi} > ?`, args: [end] };
    case Operator.LESS_THAN_OR_EQUALS:
      return { sql: `${lo} <= ?`, args: [end] };
    case Operator.GREATER_THAN_OR_EQUALS:
      return { sql: `${hi} >= ?`, args: [start] };
    case Operator.STARTS_AFTER:
      return { sql: `${lo} > ?`, args: [end] };
    case Operator.ENDS_BEFORE:
      return { sql: `${hi} < ?`, args: [start] };
    default:
      throw unsupportedModifier(filter);
  }
}

function numberCondition(filter: Filter, value: string): SqlFragment {
  const [num, system, unit] = value.split('|');
  const n = Number(num);
  if (num === '' || !Number.isFinite(n)) {
    throw new OperationOutcomeError(badRequest(`Invalid number "${value}" for search parameter "${filter.code}"`));
  }
  let sql: string;
  switch (filter.operator) {
    case Operator.EQUALS:
    case Operator.APPROXIMATELY:
    case Operator.NOT_EQUALS:
      sql = '(lo <= ? AND hi >= ?)';
      break;
    case Operator.LESS_THAN:
      sql = 'lo < ?';
      break;
    case Operator.GREATER_THAN:
      sql = 'hi > ?';
      break;
    case Operator.LESS_THAN_OR_EQUALS:
      sql = 'lo <= ?';
      break;
    case Operator.GREATER_THAN_OR_EQUALS:
      sql = 'hi >= ?';
      break;
    default:
      throw unsupportedModifier(filter);
  }
  const args: SQLInputValue[] = sql.startsWith('(') ? [n, n] : [n];
  if (system) {
    sql += ' AND system = ?';
    args.push(system.toLowerCase());
  }
  if (unit) {
    sql += ' AND unit = ?';
    args.push(unit.toLowerCase());
  }
  return { sql: `(${sql})`, args };
}

function uriCondition(filter: Filter, value: string): SqlFragment {
  switch (filter.operator) {
    case Operator.EQUALS:
    case Operator.NOT:
    case Operator.NOT_EQUALS:
      return { sql: 'value = ?', args: [value] };
    case Operator.BELOW:
      return { sql: "value LIKE ? ESCAPE '\\'", args: [escapeLike(value) + '%'] };
    default:
      throw unsupportedModifier(filter);
  }
}

function assertOperator(filter: Filter, allowed: readonly Operator[]): void {
  if (!allowed.includes(filter.operator)) {
    throw unsupportedModifier(filter);
  }
}

function unsupportedModifier(filter: Filter): OperationOutcomeError {
  return new OperationOutcomeError(
    badRequest(`Search modifier or prefix "${filter.operator}" is not supported for parameter "${filter.code}"`)
  );
}

function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => '\\' + c);
}

/** A request's `_count`, bounded so a client cannot ask for the whole store at once. */
export function pageSize(request: SearchRequest): number {
  const count = request.count ?? 20;
  if (!Number.isInteger(count) || count < 0) {
    throw new OperationOutcomeError(badRequest('_count must be a whole number of 0 or more', '_count'));
  }
  return Math.min(count, 1000);
}

/** A request's `_offset`. */
export function pageOffset(request: SearchRequest): number {
  const offset = request.offset ?? 0;
  if (!Number.isInteger(offset) || offset < 0) {
    throw new OperationOutcomeError(badRequest('_offset must be a whole number of 0 or more', '_offset'));
  }
  return offset;
}
