import type { ElementDefinition, ElementDefinitionConstraint, ElementDefinitionType } from '@medplum/fhirtypes';
import { SnapshotError } from './snapshot-error';

/*
 * How one differential element is laid over its snapshot element
 * (http://hl7.org/fhir/R4/profiling.html#snapshot): a differential may only narrow what the base
 * allows, so loosening (lower min, higher max, a type the base does not have, a weaker required
 * binding) is an authoring error and is reported rather than silently applied.
 */

/** Keys that describe where the element sits, not what it constrains; never copied from the differential. */
const POSITION_KEYS = new Set(['id', 'path', 'base', 'sliceName']);

/** Writes the constraints of `diff` into `target` (a snapshot element, already a private copy). */
export function mergeElement(target: ElementDefinition, diff: ElementDefinition): void {
  const where = diff.id ?? diff.path ?? target.id ?? '?';
  // ElementDefinition is an open bag of optional keys; indexing it by name is the point here.
  const into = target as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(diff)) {
    if (POSITION_KEYS.has(key) || value === undefined) {
      continue;
    }
    switch (key) {
      case 'min':
        checkMin(where, target, value as number);
        target.min = value as number;
        break;
      case 'max':
        checkMax(where, target, value as string);
        target.max = value as string;
        break;
      case 'type':
        target.type = narrowTypes(where, target.type ?? [], value as NonNullable<ElementDefinition['type']>);
        break;
      case 'constraint':
        target.constraint = mergeConstraints(target.constraint, value as ElementDefinitionConstraint[]);
        break;
      case 'binding':
        checkBinding(where, target, value as NonNullable<ElementDefinition['binding']>);
        target.binding = { ...target.binding, ...structuredClone(value as NonNullable<ElementDefinition['binding']>) };
        break;
      case 'slicing':
        target.slicing = { ...target.slicing, ...structuredClone(value as NonNullable<ElementDefinition['slicing']>) };
        break;
      case 'condition':
        target.condition = [...new Set([...(target.condition ?? []), ...(value as string[])])];
        break;
      case 'mapping':
        target.mapping = [...(target.mapping ?? []), ...structuredClone(value as NonNullable<ElementDefinition['mapping']>)];
        break;
      default:
        if (key.startsWith('fixed') || key.startsWith('pattern')) {
          // One fixed/pattern value per element: the profile's replaces whatever a base profile set.
          for (const old of Object.keys(into)) {
            if (old.startsWith('fixed') || old.startsWith('pattern')) {
              delete into[old];
            }
          }
        }
        into[key] = structuredClone(value);
    }
  }
}

export function parseMax(max: string | undefined): number {
  return max === undefined || max === '*' ? Number.POSITIVE_INFINITY : Number.parseInt(max, 10);
}

function checkMin(where: string, target: ElementDefinition, min: number): void {
  if (min < (target.min ?? 0)) {
    throw new SnapshotError(`${where}: min ${min} is below the base min ${target.min}; a profile can only narrow cardinality`);
  }
}

function checkMax(where: string, target: ElementDefinition, max: string): void {
  if (!/^(\*|\d+)$/.test(max)) {
    throw new SnapshotError(`${where}: max "${max}" must be a number or "*"`);
  }
  if (parseMax(max) > parseMax(target.max)) {
    throw new SnapshotError(`${where}: max ${max} is above the base max ${target.max}; a profile can only narrow cardinality`);
  }
}

function narrowTypes(
  where: string,
  base: NonNullable<ElementDefinition['type']>,
  wanted: NonNullable<ElementDefinition['type']>
): NonNullable<ElementDefinition['type']> {
  const allowed = new Set(base.map(typeCode));
  for (const type of wanted) {
    if (!allowed.has(type.code)) {
      throw new SnapshotError(`${where}: type ${type.code} is not one of the base types (${[...allowed].join(', ')})`);
    }
  }
  return structuredClone(wanted);
}

function checkBinding(where: string, target: ElementDefinition, binding: NonNullable<ElementDefinition['binding']>): void {
  if (target.binding?.strength === 'required' && binding.strength && binding.strength !== 'required') {
    throw new SnapshotError(`${where}: binding strength ${binding.strength} would weaken the base's required binding`);
  }
}

const FHIR_TYPE_EXTENSION = 'http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type';

/** Base snapshots type `Element.id` and `Extension.url` as FHIRPath System.String, marked with the FHIR type they stand for. */
function typeCode(type: ElementDefinitionType): string {
  return type.extension?.find((e) => e.url === FHIR_TYPE_EXTENSION)?.valueUrl ?? type.code;
}

/** A differential constraint with the key of a base one replaces it; new keys are added. */
function mergeConstraints(
  base: ElementDefinitionConstraint[] | undefined,
  added: ElementDefinitionConstraint[]
): ElementDefinitionConstraint[] {
  const byKey = new Map((base ?? []).map((c) => [c.key, c]));
  for (const constraint of added) {
    byKey.set(constraint.key, structuredClone(constraint));
  }
  return [...byKey.values()];
}
