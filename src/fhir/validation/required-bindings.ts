import type { InternalTypeSchema, TypedValueWithPath } from '@medplum/core';
import type { CodeableConcept, Coding, OperationOutcomeIssue } from '@medplum/fhirtypes';
import type { Expansion, ValueSetExpander } from './terminology';
import { stripVersion } from './terminology';

/*
 * Required bindings (http://hl7.org/fhir/R4/terminologies.html#required): a value SHALL be one of
 * the ValueSet's codes. Medplum's validator does not check this, but while it walks a resource it
 * already collects every value of an element with a required binding, with its FHIRPath, when asked
 * (`collect.tokens`). So the per-write cost is one Set lookup per bound value: no second walk, and
 * the element paths come from the same StructureDefinitions (base and profile) that it validates.
 */

/** Values collected by Medplum's validator, keyed by the bound ValueSet URL (possibly `|version`). */
export type CollectedTokens = Record<string, TypedValueWithPath[]>;

/** Lists the allowed codes in the error when there are at most this many. */
const MAX_LISTED_CODES = 25;

export function checkRequiredBindings(tokens: CollectedTokens, expander: ValueSetExpander): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  for (const [valueSetUrl, values] of Object.entries(tokens)) {
    const result = expander.expand(valueSetUrl);
    if (!result.ok) {
      continue; // cannot be checked offline; see ValueSetExpander
    }
    for (const value of values) {
      const problem = checkValue(value, result.expansion);
      if (problem) {
        issues.push(codeInvalid(choicePath(value), problem, result.expansion, value.type));
      }
    }
  }
  return issues;
}

/** The ValueSets that some element of these schemas (and their backbone types) binds as required. */
export function requiredValueSets(schemas: Iterable<InternalTypeSchema>): Set<string> {
  const urls = new Set<string>();
  const visit = (schema: InternalTypeSchema): void => {
    for (const element of Object.values(schema.elements)) {
      if (element.binding?.strength === 'required' && element.binding.valueSet) {
        urls.add(stripVersion(element.binding.valueSet));
      }
    }
    schema.innerTypes.forEach(visit);
  };
  for (const schema of schemas) {
    visit(schema);
  }
  return urls;
}

/** Says what is wrong with the value, or undefined when it is in the ValueSet (or is not a coded type). */
function checkValue(value: TypedValueWithPath, expansion: Expansion): string | undefined {
  const valueSet = `the required value set ${expansion.url}`;
  switch (value.type) {
    case 'code':
      return typeof value.value !== 'string' || expansion.codes.has(value.value) ? undefined : `Value "${value.value}" is not in ${valueSet}`;
    case 'Coding':
      if (!isObject(value.value)) {
        return `A Coding from ${valueSet} is required`;
      }
      return codingIn(value.value as Coding, expansion) ? undefined : `Coding ${describe(value.value as Coding)} is not in ${valueSet}`;
    case 'CodeableConcept': {
      // Medplum's structure check lets some malformed shapes through (a Coding object where an
      // array belongs); only well-shaped codings can be in the value set.
      const raw: unknown = isObject(value.value) ? (value.value as CodeableConcept).coding : undefined;
      const codings = (Array.isArray(raw) ? raw : []).filter(isObject) as Coding[];
      if (codings.some((c) => codingIn(c, expansion))) {
        return undefined;
      }
      return codings.length === 0
        ? `A coding from ${valueSet} is required`
        : `No coding (${codings.map(describe).join(', ')}) is in ${valueSet}`;
    }
    default:
      // string, uri and Quantity can carry bindings too; none of the base required ones needs them.
      return undefined;
  }
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Medplum names a choice element `value[x]`; FHIRPath names the property present, `valueCode`. */
function choicePath(value: TypedValueWithPath): string {
  return value.path.endsWith('[x]') ? value.path.slice(0, -3) + value.type.charAt(0).toUpperCase() + value.type.slice(1) : value.path;
}

function codingIn(coding: Coding, expansion: Expansion): boolean {
  return !!coding.system && !!coding.code && !!expansion.bySystem.get(coding.system)?.has(coding.code);
}

function describe(coding: Coding): string {
  return `${coding.system ?? '(no system)'}|${coding.code ?? '(no code)'}`;
}

function codeInvalid(path: string, problem: string, expansion: Expansion, type: string): OperationOutcomeIssue {
  const allowed = allowedCodes(expansion);
  const [system] = expansion.bySystem.keys();
  const inSystem = type !== 'code' && expansion.bySystem.size === 1 ? ` (system ${system})` : '';
  const listed = allowed.length <= MAX_LISTED_CODES ? `; allowed: ${allowed.join(', ')}${inSystem}` : ` (${allowed.length} codes)`;
  return {
    severity: 'error',
    code: 'code-invalid',
    details: { text: `${problem}${listed}` },
    diagnostics: JSON.stringify({ valueSet: expansion.url, ...(allowed.length <= MAX_LISTED_CODES ? { allowed } : {}) }),
    expression: [path],
  };
}

/** Codes alone when there is one system (as for every `code`-typed element), else `system|code`. */
function allowedCodes(expansion: Expansion): string[] {
  if (expansion.bySystem.size <= 1) {
    return [...expansion.codes];
  }
  return [...expansion.bySystem].flatMap(([system, codes]) => [...codes].map((code) => `${system}|${code}`));
}
