import type { CodeSystem, CodeSystemConcept, ValueSet, ValueSetComposeInclude } from '@medplum/fhirtypes';

/** Where the expander finds ValueSets and CodeSystems by canonical URL (version suffixes already removed). */
export interface TerminologySource {
  valueSet(url: string): ValueSet | undefined;
  codeSystem(url: string): CodeSystem | undefined;
}

/** The codes of a ValueSet, by system; `code`-typed values are checked against `codes` alone. */
export interface Expansion {
  readonly url: string;
  readonly bySystem: ReadonlyMap<string, ReadonlySet<string>>;
  /** Every code, whatever its system. */
  readonly codes: ReadonlySet<string>;
}

/** Why a ValueSet could not be expanded here; bindings to it are not checked. */
export interface Unexpandable {
  readonly url: string;
  readonly reason: string;
}

export type ExpansionResult = { readonly ok: true; readonly expansion: Expansion } | { readonly ok: false; readonly unexpandable: Unexpandable };

class CannotExpand extends Error {}

/**
 * Expands ValueSets offline from their `compose` (http://hl7.org/fhir/R4/valueset.html#compose):
 * `include`/`exclude` by `system` with a `concept` list, or the whole CodeSystem when it is here
 * with `content: complete`; `include.valueSet` imports; filters `is-a`, `descendent-of`,
 * `is-not-a` (on the CodeSystem hierarchy) and `=` (on a concept property, or `concept`).
 * Anything else (another filter, a CodeSystem that is not here or not complete, such as SNOMED CT,
 * LOINC, UCUM, BCP-13 mime types or BCP-47 languages) makes the ValueSet unexpandable: its
 * bindings are skipped, which is what a server without a terminology service can honestly do.
 * A pre-computed `expansion.contains` is used when there is no `compose`. Results are cached.
 */
export class ValueSetExpander {
  private readonly cache = new Map<string, ExpansionResult>();

  constructor(private readonly source: TerminologySource) {}

  expand(url: string): ExpansionResult {
    const key = stripVersion(url);
    let result = this.cache.get(key);
    if (!result) {
      result = this.compute(key, new Set());
      this.cache.set(key, result);
    }
    return result;
  }

  /** ValueSets asked for so far that could not be expanded. */
  unexpandable(): Unexpandable[] {
    return [...this.cache.values()].flatMap((r) => (r.ok ? [] : [r.unexpandable]));
  }

  private compute(url: string, visiting: Set<string>): ExpansionResult {
    try {
      const bySystem = this.codesOf(url, visiting);
      const codes = new Set<string>();
      for (const set of bySystem.values()) {
        set.forEach((code) => codes.add(code));
      }
      return { ok: true, expansion: { url, bySystem, codes } };
    } catch (err) {
      if (err instanceof CannotExpand) {
        return { ok: false, unexpandable: { url, reason: err.message } };
      }
      throw err;
    }
  }

  private codesOf(url: string, visiting: Set<string>): Map<string, Set<string>> {
    if (visiting.has(url)) {
      throw new CannotExpand(`imports itself (${[...visiting].join(' -> ')})`);
    }
    const vs = this.source.valueSet(url);
    if (!vs) {
      throw new CannotExpand('ValueSet not found');
    }
    if (!vs.compose) {
      if (vs.expansion?.contains) {
        return fromContains(vs.expansion.contains);
      }
      throw new CannotExpand('no compose and no expansion');
    }
    const inner = new Set(visiting).add(url);
    const result = new Map<string, Set<string>>();
    for (const include of vs.compose.include) {
      for (const [system, codes] of this.codesOfInclude(include, inner)) {
        addAll(result, system, codes);
      }
    }
    for (const exclude of vs.compose.exclude ?? []) {
      for (const [system, codes] of this.codesOfInclude(exclude, inner)) {
        codes.forEach((code) => result.get(system)?.delete(code));
      }
    }
    return result;
  }

  private codesOfInclude(include: ValueSetComposeInclude, visiting: Set<string>): Map<string, Set<string>> {
    const imported = (include.valueSet ?? []).map((url) => this.codesOf(stripVersion(url), visiting));
    if (!include.system) {
      if (imported.length === 0) {
        throw new CannotExpand('an include has neither system nor valueSet');
      }
      return imported.slice(1).reduce(intersect, imported[0]);
    }
    let codes: Set<string>;
    if (include.concept) {
      codes = new Set(include.concept.map((c) => c.code));
    } else {
      const cs = this.completeCodeSystem(include.system);
      codes = new Set(allConcepts(cs.concept ?? []).map((c) => c.code));
      for (const filter of include.filter ?? []) {
        codes = applyFilter(cs, codes, filter.property, filter.op, filter.value);
      }
    }
    const result = new Map([[include.system, codes]]);
    return imported.reduce(intersect, result);
  }

  private completeCodeSystem(system: string): CodeSystem {
    const cs = this.source.codeSystem(system);
    if (!cs) {
      throw new CannotExpand(`CodeSystem ${system} is not available offline`);
    }
    if (cs.content !== 'complete') {
      throw new CannotExpand(`CodeSystem ${system} has content "${cs.content}", not complete`);
    }
    return cs;
  }
}

export function stripVersion(url: string): string {
  const bar = url.indexOf('|');
  return bar < 0 ? url : url.slice(0, bar);
}

function applyFilter(cs: CodeSystem, codes: Set<string>, property: string, op: string, value: string): Set<string> {
  const concepts = allConcepts(cs.concept ?? []);
  if ((op === 'is-a' || op === 'descendent-of' || op === 'is-not-a') && property === 'concept') {
    if (concepts.some((c) => c.property?.some((p) => p.code === 'parent' || p.code === 'subsumedBy'))) {
      // The hierarchy is (also) in properties; walking nested concepts alone would miss descendants.
      throw new CannotExpand(`filter "${op}" on ${cs.url}, whose hierarchy is given by properties`);
    }
    const root = concepts.find((c) => c.code === value);
    const below = new Set(root ? allConcepts(root.concept ?? []).map((c) => c.code) : []);
    if (op === 'is-a' && root) {
      below.add(root.code);
    }
    return new Set([...codes].filter((code) => (op === 'is-not-a' ? !below.has(code) && code !== value : below.has(code))));
  }
  if (op === '=') {
    const matching = new Set(
      concepts.filter((c) => (property === 'concept' ? c.code === value : c.property?.some((p) => p.code === property && propertyValue(p) === value))).map((c) => c.code)
    );
    return new Set([...codes].filter((code) => matching.has(code)));
  }
  throw new CannotExpand(`filter "${property} ${op} ${value}" is not supported`);
}

function propertyValue(p: NonNullable<CodeSystemConcept['property']>[number]): string | undefined {
  const value = p.valueCode ?? p.valueString ?? p.valueBoolean ?? p.valueInteger ?? p.valueCoding?.code;
  return value === undefined ? undefined : String(value);
}

function allConcepts(concepts: CodeSystemConcept[]): CodeSystemConcept[] {
  return concepts.flatMap((c) => [c, ...allConcepts(c.concept ?? [])]);
}

function fromContains(contains: NonNullable<NonNullable<ValueSet['expansion']>['contains']>): Map<string, Set<string>> {
  const result = new Map<string, Set<string>>();
  const walk = (items: typeof contains): void => {
    for (const item of items) {
      if (item.system && item.code && !item.abstract) {
        addAll(result, item.system, [item.code]);
      }
      walk(item.contains ?? []);
    }
  };
  walk(contains);
  return result;
}

function addAll(map: Map<string, Set<string>>, system: string, codes: Iterable<string>): void {
  let set = map.get(system);
  if (!set) {
    set = new Set();
    map.set(system, set);
  }
  for (const code of codes) {
    set.add(code);
  }
}

function intersect(a: Map<string, Set<string>>, b: Map<string, Set<string>>): Map<string, Set<string>> {
  const result = new Map<string, Set<string>>();
  for (const [system, codes] of a) {
    const other = b.get(system);
    if (other) {
      result.set(system, new Set([...codes].filter((c) => other.has(c))));
    }
  }
  return result;
}
