import { badRequest, isResourceType, OperationOutcomeError } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';

/** One literal reference found in a resource, with the FHIRPath-like location it sits at. */
export interface FoundReference {
  readonly reference: string;
  readonly expression: string;
}

/**
 * Every `reference` string in a resource (Reference.reference), with where it is. Contained
 * (`#id`) and absolute references to other servers are skipped: only references into this
 * store can be checked. References to our own base URL count as local.
 */
export function findLocalReferences(resource: Resource, fhirBase: string): FoundReference[] {
  const found: FoundReference[] = [];
  const walk = (value: unknown, path: string): void => {
    if (Array.isArray(value)) {
      value.forEach((item) => walk(item, path));
      return;
    }
    if (!value || typeof value !== 'object') {
      return;
    }
    for (const [key, child] of Object.entries(value)) {
      if (key === 'reference' && typeof child === 'string') {
        found.push({ reference: child.startsWith(fhirBase) ? child.slice(fhirBase.length) : child, expression: path });
      } else if (key !== 'contained' && key !== 'meta') {
        walk(child, `${path}.${key}`);
      }
    }
  };
  walk(resource, resource.resourceType);
  const self = `${resource.resourceType}/${resource.id}`;
  return found.filter((r) => !r.reference.startsWith('#') && !/^https?:\/\//.test(r.reference) && r.reference !== self);
}

/**
 * Throws 400 naming the element when a reference cannot resolve: a `urn:uuid:` left over from a
 * bundle entry that does not exist, or `Type/id` of a resource the store does not hold.
 */
export function assertReferencesResolve(refs: readonly FoundReference[], exists: (type: string, id: string) => boolean): void {
  for (const { reference, expression } of refs) {
    if (reference.startsWith('urn:uuid:') || reference.startsWith('urn:oid:')) {
      throw new OperationOutcomeError(
        badRequest(`Reference "${reference}" does not match any entry's fullUrl in the bundle`, expression)
      );
    }
    const [type, id] = reference.split('/');
    if (isResourceType(type) && id && !exists(type, id)) {
      throw new OperationOutcomeError(badRequest(`Reference "${reference}" points to a resource that does not exist`, expression));
    }
  }
}
