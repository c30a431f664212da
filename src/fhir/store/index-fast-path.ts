import type { TypedValue } from '@medplum/core';
import { capitalize, fhirPathEquals, fhirPathIs, getElementDefinition, isQuantity, toJsBoolean } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';

/**
 * A search parameter whose expression (for one resource type) is plain navigation, such as
 * `Patient.identifier`, `Observation.effective`, `Condition.onset.ofType(Age)` or a union of
 * those, compiled to a direct walk of the JSON. The FHIRPath engine spends most of an evaluation
 * looking up element definitions by name at each step; here they are looked up once.
 *
 * It mirrors `SymbolAtom` / `getTypedPropertyValueWithSchema` (and uses the engine's own
 * `fhirPathIs` for `ofType` and `removeDuplicates` for `|`), and returns undefined ("ask the
 * engine") on anything it does not mirror exactly: primitive extensions (`_birthDate`), nulls
 * inside arrays. Its output is compared to the engine's for every base parameter on every example
 * resource in the repository (`test/fhir/store/index-fast-path.test.ts`).
 */
export type FastPath = (resource: Resource) => TypedValue[] | undefined;

type Branch = (resource: Resource) => TypedValue[] | undefined;

const BRANCH = /^([A-Z][A-Za-z]+)((?:\.[a-z][A-Za-z0-9]*)+)(?:\.ofType\(([A-Za-z]+)\))?$/;

/** The walk for `expression` (this type's branches, as the engine prints its parsed form), or undefined when it is not plain navigation. */
export function compileFastPath(resourceType: string, expression: string): FastPath | undefined {
  const branches: Branch[] = [];
  for (const text of splitUnion(expression)) {
    const branch = compileBranch(resourceType, text);
    if (!branch) {
      return undefined;
    }
    branches.push(branch);
  }
  if (branches.length === 1) {
    return branches[0];
  }
  return (resource) => {
    const all: TypedValue[] = [];
    for (const branch of branches) {
      const values = branch(resource);
      if (!values) {
        return undefined;
      }
      all.push(...values);
    }
    // The engine's `|`: nested unions dedupe keeping the first of equals, as one flat dedupe does.
    const out: TypedValue[] = [];
    for (const value of all) {
      if (!out.some((kept) => sameInUnion(kept, value))) {
        out.push(value);
      }
    }
    return out;
  };
}

/**
 * `removeDuplicates`'s equality as the engine applies it: its typed values carry their path
 * (`Observation.component[1].code`), which `fhirPathEquals` compares for objects other than
 * Quantities, so two objects are equal only when they are the same element of the resource.
 */
function sameInUnion(x: TypedValue, y: TypedValue): boolean {
  const a: unknown = x.value;
  const b: unknown = y.value;
  if (typeof a === 'object' && typeof b === 'object' && !(isQuantity(a) && isQuantity(b))) {
    return a === b;
  }
  return toJsBoolean(fhirPathEquals(x, y));
}

/** `((A | B) | C)` → A, B, C; a single branch as is. Any other parenthesis leaves it whole (and uncompiled). */
function splitUnion(expression: string): string[] {
  const text = expression.trim();
  if (!text.includes(' | ')) {
    return [text];
  }
  return text
    .split(' | ')
    .map((part) => part.replace(/^\(+/, '').replace(/(?<!\([A-Za-z]+)\)+$/, ''));
}

function compileBranch(resourceType: string, text: string): Branch | undefined {
  const match = BRANCH.exec(text);
  if (!match || match[1] !== resourceType) {
    return undefined;
  }
  const names = match[2].slice(1).split('.');
  const ofType = match[3];
  const steps: { name: string; choices?: { key: string; type: string }[] }[] = [];
  let type = resourceType;
  for (let i = 0; i < names.length; i++) {
    const element = getElementDefinition(type, names[i]);
    const types = element?.type ?? [];
    if (!element || types.length === 0 || types.some((t) => t.code === 'Resource')) {
      return undefined; // no schema (the engine guesses), or a contained resource (typed per value)
    }
    if (element.path.endsWith('[x]')) {
      if (i !== names.length - 1) {
        return undefined; // navigation below a choice: left to the engine
      }
      steps.push({ name: names[i], choices: types.map((t) => ({ key: names[i] + capitalize(t.code), type: t.code })) });
    } else if (types.length === 1) {
      steps.push({ name: names[i] });
      type = types[0].code;
    } else {
      return undefined;
    }
  }
  if (ofType && !steps[steps.length - 1].choices) {
    return undefined;
  }
  const resultType = type;
  return (resource) => {
    let current: unknown[] = [resource];
    let types: string[] | undefined;
    for (const step of steps) {
      const next: unknown[] = [];
      const nextTypes: string[] = [];
      for (const input of current) {
        if (!input || typeof input !== 'object') {
          continue;
        }
        const holder = input as Record<string, unknown>;
        let key = step.name;
        let valueType = resultType;
        if (step.choices) {
          // The engine takes the first of the element's types that has a value.
          const found = step.choices.find((c) => holder[c.key] !== undefined || holder['_' + c.key] !== undefined);
          if (!found) {
            continue;
          }
          key = found.key;
          valueType = found.type;
        }
        if (holder['_' + key] !== undefined) {
          return undefined; // a primitive extension: the engine merges it into the value
        }
        const before = next.length;
        const value = holder[key];
        if (Array.isArray(value)) {
          for (const item of value) {
            if (item === null || item === undefined) {
              return undefined;
            }
            next.push(item);
          }
        } else if (!isEmptyValue(value)) {
          next.push(value);
        }
        for (let k = before; k < next.length; k++) {
          nextTypes.push(valueType);
        }
      }
      current = next;
      types = step.choices ? nextTypes : undefined;
    }
    const out = current.map((value, i) => ({ type: types ? types[i] : resultType, value }));
    return ofType ? out.filter((v) => fhirPathIs(v, ofType)) : out;
  };
}

/** `isEmpty` of @medplum/core, which the engine applies to a property's (non-array) value. */
function isEmptyValue(value: unknown): boolean {
  if (value === null || value === undefined || value === '') {
    return true;
  }
  return typeof value === 'object' && Object.keys(value).length === 0;
}
