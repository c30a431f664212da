import { getAllDataTypes, getNestedProperty, getValueSliceName, isSliceDefinitionWithTypes, toTypedValue, validateTypedValue } from '@medplum/core';
import type { InternalTypeSchema, SliceDefinitionWithTypes, SliceDiscriminator, TypedValueWithPath } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { issuesOf } from './issues';
import type { CollectedTokens } from './required-bindings';

/*
 * Medplum's validator uses a slice only to count the values that match it: the constraints inside
 * the slice (`Patient.identifier:mrn.value` min 1, an extension slice's value type and binding) are
 * never checked. Here each slice with constraints of its own becomes a small schema, registered
 * once under a name of its own (as profiles are, see profiles.ts), and every value that matches
 * the slice is validated against it.
 */

export interface SliceCheck {
  /** Path of the sliced element below the resource, as Medplum's crawler names it (`identifier`, `code.coding`). */
  readonly key: string;
  readonly discriminators: SliceDiscriminator[];
  readonly slices: SliceDefinitionWithTypes[];
  /** Registered type name per slice name, for the slices that constrain their contents. */
  readonly schemaBySlice: ReadonlyMap<string, string>;
}

/** Finds the slices of a parsed profile (on its elements and its backbone elements) and registers their schemas. */
export function prepareSliceChecks(profileUrl: string, schema: InternalTypeSchema): SliceCheck[] {
  const checks: SliceCheck[] = [];
  for (const type of [schema, ...schema.innerTypes]) {
    const prefix = type === schema ? '' : type.path.slice(schema.path.length + 1) + '.';
    for (const [name, element] of Object.entries(type.elements)) {
      const slicing = element.slicing;
      if (!slicing?.slices.length) {
        continue;
      }
      const key = prefix + name;
      const schemaBySlice = new Map<string, string>();
      for (const slice of slicing.slices) {
        if (Object.keys(slice.elements).length > 0 || slice.constraints?.length) {
          schemaBySlice.set(slice.name, registerSliceSchema(profileUrl, `${schema.path}.${key}`, slice));
        }
      }
      if (schemaBySlice.size > 0) {
        checks.push({ key, discriminators: slicing.discriminator, slices: slicing.slices.filter(isSliceDefinitionWithTypes), schemaBySlice });
      }
    }
  }
  return checks;
}

/** Validates every value that matches a slice against that slice's own constraints. */
export function checkSliceContents(resource: Resource, profileUrl: string, checks: readonly SliceCheck[], tokens: CollectedTokens): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  const root: TypedValueWithPath = { ...toTypedValue(resource), path: resource.resourceType };
  for (const check of checks) {
    for (const value of getNestedProperty(root, check.key, { withPath: true }).flat()) {
      if (value.value === undefined) {
        continue;
      }
      const sliceName = getValueSliceName(value.value, check.slices, check.discriminators, profileUrl);
      const typeName = sliceName ? check.schemaBySlice.get(sliceName) : undefined;
      if (typeName) {
        issues.push(...validateSliceValue(value, typeName, `${resource.resourceType}.${check.key}`, tokens));
      }
    }
  }
  return issues;
}

function validateSliceValue(value: TypedValueWithPath, typeName: string, schemaPath: string, tokens: CollectedTokens): OperationOutcomeIssue[] {
  // Paths come back rooted at the sliced element (`Patient.identifier.value`); the value's own path has its index.
  const here = (path: string): string => (path === schemaPath || path.startsWith(schemaPath + '.') || path.startsWith(schemaPath + '[') ? value.path + path.slice(schemaPath.length) : path);
  const sliceTokens: CollectedTokens = {};
  let issues: OperationOutcomeIssue[];
  try {
    issues = validateTypedValue({ type: typeName, value: value.value }, { collect: { tokens: sliceTokens } });
  } catch (err) {
    issues = issuesOf(err);
  }
  for (const [url, values] of Object.entries(sliceTokens)) {
    tokens[url] = [...(tokens[url] ?? []), ...values.map((v) => ({ ...v, path: here(v.path) }))];
  }
  return issues.map((issue) => ({ ...issue, expression: issue.expression?.map(here) }));
}

function registerSliceSchema(profileUrl: string, path: string, slice: SliceDefinitionWithTypes | SliceDefinitionLike): string {
  const name = `${path}:${slice.name}|${profileUrl}`;
  const type = slice.type?.[0]?.code ?? 'Element';
  getAllDataTypes()[name] = { name, type, path, kind: 'profile', elements: slice.elements, constraints: slice.constraints, innerTypes: [] };
  return name;
}

type SliceDefinitionLike = Parameters<typeof isSliceDefinitionWithTypes>[0];
