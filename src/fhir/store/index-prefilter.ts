import type { Resource } from '@medplum/fhirtypes';
import type { IndexedParam } from './index-values';

/**
 * Most of a type's search parameters name elements a given resource does not have (an
 * Observation has ~38 indexed parameters and typically ~10 with values). Evaluating FHIRPath for
 * each costs a typed walk; this skips a parameter when none of its expression's branches can
 * start at an element the resource holds. Conservative: any branch it cannot read as
 * `Type.element…` means "evaluate".
 */
const rootsByParam = new WeakMap<IndexedParam, readonly string[] | null>();

/** The top-level elements a parameter's expression can start from for this type, or null when unsure. */
function rootsOf(resourceType: string, p: IndexedParam): readonly string[] | null {
  let roots = rootsByParam.get(p);
  if (roots === undefined) {
    roots = parseRoots(resourceType, p.param.expression ?? '');
    rootsByParam.set(p, roots);
  }
  return roots;
}

function parseRoots(resourceType: string, expression: string): string[] | null {
  const roots: string[] = [];
  // Parentheses only ever wrap whole branches in the base definitions, but a `|` inside a
  // function call would break the split: then give up and always evaluate.
  if (/\([^()]*\|/.test(expression)) {
    return null;
  }
  for (const raw of expression.split('|')) {
    const branch = raw.trim().replace(/^\(+/, '');
    if (!branch.startsWith(`${resourceType}.`) && /^[A-Z][A-Za-z]+\./.test(branch)) {
      continue; // another type's branch of a shared base parameter
    }
    const match = new RegExp(`^${resourceType}\\.([a-z][A-Za-z0-9]*)`).exec(branch);
    // Only a navigation is empty on an absent element; `deceased.exists() and …` is `false`.
    if (!match || COMPUTES_VALUE.test(withoutWhereArguments(branch))) {
      return null;
    }
    roots.push(match[1]);
  }
  return roots;
}

const COMPUTES_VALUE = /\b(and|or|xor|implies|is|iif|exists|empty|not|count|all|hasValue|select|repeat|descendants|children)\b|[=<>!%+*]|\s-\s/;

/** `where(...)` filters only shrink a collection: their conditions do not make a value. */
function withoutWhereArguments(branch: string): string {
  let out = '';
  let i = 0;
  while (i < branch.length) {
    if (branch.startsWith('where(', i)) {
      let depth = 0;
      let j = i + 5;
      for (; j < branch.length; j++) {
        depth += branch[j] === '(' ? 1 : branch[j] === ')' ? -1 : 0;
        if (depth === 0) {
          break;
        }
      }
      out += 'where()';
      i = j + 1;
    } else {
      out += branch[i++];
    }
  }
  return out;
}

/**
 * Element names present in the resource, with choice elements also under their base name
 * (`valueQuantity` → `value`) and primitive extensions (`_birthDate`) under theirs.
 */
export function presentElements(resource: Resource): Set<string> {
  const names = new Set<string>();
  for (const key of Object.keys(resource)) {
    const name = key.startsWith('_') ? key.slice(1) : key;
    names.add(name);
    const choice = /^([a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)*?)[A-Z][A-Za-z0-9]*$/.exec(name);
    if (choice) {
      // Every camel-case prefix: `effectiveDateTime` → effective, effectiveDate.
      for (let i = 1; i < name.length; i++) {
        if (name[i] >= 'A' && name[i] <= 'Z') {
          names.add(name.slice(0, i));
        }
      }
    }
  }
  return names;
}

/** False only when the parameter certainly has no value in a resource holding `present`. */
export function mayHaveValues(resourceType: string, p: IndexedParam, present: ReadonlySet<string>): boolean {
  const roots = rootsOf(resourceType, p);
  return roots === null || roots.some((r) => present.has(r));
}
