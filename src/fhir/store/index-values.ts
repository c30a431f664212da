import type { FhirPathAtom, TypedValue } from '@medplum/core';
import {
  convertToSearchableDates,
  convertToSearchableNumbers,
  convertToSearchableQuantities,
  convertToSearchableReferences,
  convertToSearchableStrings,
  convertToSearchableTokens,
  convertToSearchableUris,
  getParsedExpressionForResourceType,
  getSearchParameters,
  toTypedValue,
} from '@medplum/core';
import type { Resource, SearchParameter } from '@medplum/fhirtypes';
import type { FastPath } from './index-fast-path';
import { compileFastPath } from './index-fast-path';

/** Which index table a search parameter's values live in. */
export type IndexKind = 'token' | 'string' | 'reference' | 'date' | 'number' | 'quantity' | 'uri';

export interface IndexedParam {
  readonly code: string;
  readonly kind: IndexKind;
  readonly param: SearchParameter;
  readonly atom: FhirPathAtom;
  /** A direct JSON walk giving the engine's result, when the expression is a plain path. */
  readonly fastPath?: FastPath;
}

/** Values extracted from one resource for one parameter, in the shape of its index table. */
export type IndexValues =
  | { kind: 'token'; rows: { system: string | null; value: string | null }[] }
  | { kind: 'string'; rows: { norm: string; raw: string }[] }
  | { kind: 'reference'; rows: { ref: string; refId: string }[] }
  | { kind: 'date'; rows: { lo: string; hi: string }[] }
  | { kind: 'number'; rows: { lo: number | null; hi: number | null; system: string | null; unit: string | null }[] }
  | { kind: 'uri'; rows: { value: string }[] };

const KIND_BY_TYPE: Record<string, IndexKind | undefined> = {
  token: 'token',
  string: 'string',
  reference: 'reference',
  date: 'date',
  number: 'number',
  quantity: 'quantity',
  uri: 'uri',
};

const paramCache = new Map<string, IndexedParam[]>();

/**
 * Parameters that are searchable but get no index rows: searches on `_id` and `_lastUpdated`
 * (filters and sorts) read the resource row's own `id` and `last_updated` columns (search-sql.ts),
 * so their rows were written with every version (in three and four B-trees) and never read.
 * Stores written before keep such rows until the resource's next version; nothing reads them.
 */
export const UNINDEXED: ReadonlySet<string> = new Set(['_id', '_lastUpdated']);

/**
 * Every search parameter of a resource type that has an indexable type and an expression, with
 * its FHIRPath parsed once. Derived from the SearchParameter definitions themselves, so no
 * parameter needs a hand-written list (composite and special parameters have no table yet).
 */
export function indexedParams(resourceType: string): IndexedParam[] {
  let params = paramCache.get(resourceType);
  if (!params) {
    params = [];
    for (const [code, param] of Object.entries(getSearchParameters(resourceType) ?? {})) {
      const kind = KIND_BY_TYPE[param.type as string];
      if (!kind || !param.expression) {
        continue;
      }
      // Base parameters are unions over many types (`Account.identifier | ... | Task.identifier`);
      // keep only this type's branch, or every write evaluates all of them.
      const atom = getParsedExpressionForResourceType(resourceType, param.expression);
      params.push({ code, kind, param, atom, fastPath: compileFastPath(resourceType, atom.toString()) });
    }
    paramCache.set(resourceType, params);
  }
  return params;
}

/** Lower-cases and strips diacritics so that "Müller" is found by "muller". */
export function normalizeString(value: string): string {
  return value.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
}

/** Extracts the index rows of one parameter from a resource, using Medplum's own value conversions. */
export function extractIndexValues(resource: Resource, p: IndexedParam): IndexValues | undefined {
  return convertValues(p, p.fastPath?.(resource) ?? evaluateFhirPath(resource, p));
}

/** The parameter's values by the FHIRPath engine (what the fast path must equal). */
export function evaluateFhirPath(resource: Resource, p: IndexedParam): TypedValue[] {
  return p.atom.eval({ variables: {} }, [toTypedValue(resource)]).map((v) => ({ type: v.type, value: v.value?.valueOf() }));
}

/** Index rows from a parameter's values, using Medplum's own value conversions. */
export function convertValues(p: IndexedParam, typed: TypedValue[]): IndexValues | undefined {
  if (typed.length === 0) {
    return undefined;
  }
  switch (p.kind) {
    case 'token':
      return {
        kind: 'token',
        rows: convertToSearchableTokens(typed).map((t) => ({
          system: t.system?.toLowerCase() ?? null,
          value: t.value?.toLowerCase() ?? null,
        })),
      };
    case 'string':
      return { kind: 'string', rows: convertToSearchableStrings(typed).map((raw) => ({ raw, norm: normalizeString(raw) })) };
    case 'reference':
      return {
        kind: 'reference',
        rows: convertToSearchableReferences(typed).map((ref) => ({ ref, refId: ref.slice(ref.lastIndexOf('/') + 1) })),
      };
    case 'date':
      return {
        kind: 'date',
        rows: convertToSearchableDates(typed).map((period) => ({ lo: period.start ?? '0000', hi: period.end ?? '9999' })),
      };
    case 'number':
      return {
        kind: 'number',
        rows: convertToSearchableNumbers(typed).map(([lo, hi]) => ({ lo: lo ?? null, hi: hi ?? null, system: null, unit: null })),
      };
    case 'quantity':
      return {
        kind: 'number',
        rows: convertToSearchableQuantities(typed).map((q) => ({
          lo: q.value ?? null,
          hi: q.value ?? null,
          system: q.system?.toLowerCase() ?? null,
          unit: (q.code ?? q.unit)?.toLowerCase() ?? null,
        })),
      };
    case 'uri':
      return { kind: 'uri', rows: convertToSearchableUris(typed).map((value) => ({ value })) };
    default:
      return undefined;
  }
}
