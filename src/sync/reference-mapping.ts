/**
 * Rewrites references when a resource crosses between the EHR and the store. A reference to a
 * resource the other side also has becomes a reference to its copy there; any other reference
 * becomes a logical reference (identifier + display, no literal `reference`), so neither server's
 * referential-integrity check trips on a Practitioner or Medication that was not synced.
 */
import type { Identifier, Reference, Resource } from '@medplum/fhirtypes';

export type ReferenceResolver = (resourceType: string, id: string) => string | undefined;

/** `Type/id` or `<base>/Type/id` (optionally with `_history`) → [Type, id]. */
export function parseReference(reference: string, baseUrl?: string): [string, string] | undefined {
  let ref = reference;
  if (baseUrl && ref.startsWith(baseUrl.replace(/\/+$/, '') + '/')) {
    ref = ref.slice(baseUrl.replace(/\/+$/, '').length + 1);
  }
  const match = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(\/_history\/[^/]+)?$/.exec(ref);
  return match ? [match[1], match[2]] : undefined;
}

/**
 * A deep copy of `resource` without server-owned fields (`id`, `meta` except profile and tags),
 * with every reference passed through `resolve`: mapped → `Type/<id there>`, unmapped → logical.
 */
export function mapResource<T extends Resource>(
  resource: T,
  resolve: ReferenceResolver,
  logicalSystem: (resourceType: string) => string,
  sourceBaseUrl?: string
): T {
  const { id: _id, meta, ...rest } = resource;
  const copy = mapValue(rest, resolve, logicalSystem, sourceBaseUrl) as T;
  const keptMeta = meta && (meta.profile || meta.tag) ? { ...(meta.profile ? { profile: meta.profile } : {}), ...(meta.tag ? { tag: meta.tag } : {}) } : undefined;
  return keptMeta ? ({ ...copy, meta: keptMeta } as T) : copy;
}

function mapValue(value: unknown, resolve: ReferenceResolver, logicalSystem: (type: string) => string, base?: string): unknown {
  if (Array.isArray(value)) {
    return value.map((v) => mapValue(v, resolve, logicalSystem, base));
  }
  if (value === null || typeof value !== 'object') {
    return value;
  }
  const obj = value as Record<string, unknown>;
  if (typeof obj.reference === 'string' && !obj.reference.startsWith('#')) {
    return mapReference(obj as Reference, resolve, logicalSystem, base);
  }
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(obj)) {
    // Contained resources keep their local ids; their own references are still mapped.
    out[key] = key === 'contained' ? (v as Resource[]).map((c) => ({ ...(mapValue(c, resolve, logicalSystem, base) as object), id: c.id })) : mapValue(v, resolve, logicalSystem, base);
  }
  return out;
}

function mapReference(ref: Reference, resolve: ReferenceResolver, logicalSystem: (type: string) => string, base?: string): Reference {
  const parsed = parseReference(ref.reference as string, base);
  const { reference: _r, ...rest } = ref;
  if (!parsed) {
    return { ...rest, display: ref.display ?? ref.reference };
  }
  const [type, id] = parsed;
  const mapped = resolve(type, id);
  if (mapped) {
    return { ...rest, reference: mapped };
  }
  const identifier: Identifier = ref.identifier ?? { system: logicalSystem(type), value: id };
  return { ...rest, type: ref.type ?? (type as Reference['type']), identifier };
}
