/**
 * Which scopes a token request is granted: the requested scopes narrowed to what the client is
 * registered for. RFC 6749 §3.3 lets the server grant fewer scopes than requested (it then says so
 * in the response's `scope`); SMART clients must use the scopes the token response grants.
 * https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html
 */
import { formatResourceScope, parseResourceScope, type ResourceScope } from './smart-scopes';

/**
 * Returns requested ∩ allowed. With no requested scopes the client gets all it is allowed.
 * A requested scope that an allowed scope fully covers is granted as written (v1 stays v1); one
 * that is only partly covered is granted as the intersection, in v2 syntax
 * (`system/*.cruds` requested, `system/Patient.rs` allowed → `system/Patient.rs`).
 * Non-resource scopes (`openid`, `launch/patient`, ...) are granted only if allowed verbatim.
 * An empty result means the request must fail with `invalid_scope`.
 */
export function grantScopes(requested: readonly string[], allowed: readonly string[]): string[] {
  if (requested.length === 0) {
    return [...allowed];
  }
  const allowedScopes = allowed.map(parseResourceScope).filter((s): s is ResourceScope => s !== undefined);
  const granted = new Set<string>();
  for (const scope of requested) {
    if (allowed.includes(scope)) {
      granted.add(scope);
      continue;
    }
    const parsed = parseResourceScope(scope);
    if (parsed) {
      for (const grant of grantResourceScope(scope, parsed, allowedScopes)) {
        granted.add(grant);
      }
    }
  }
  return [...granted];
}

function grantResourceScope(raw: string, requested: ResourceScope, allowed: readonly ResourceScope[]): string[] {
  const parts: string[] = [];
  for (const candidate of allowed) {
    const common = intersect(requested, candidate);
    if (!common) {
      continue;
    }
    if (isSame(common, requested)) {
      return [raw];
    }
    parts.push(formatResourceScope(common));
  }
  return parts;
}

function intersect(a: ResourceScope, b: ResourceScope): Omit<ResourceScope, 'syntax'> | undefined {
  if (a.context !== b.context) {
    return undefined;
  }
  const resourceType = a.resourceType === '*' ? b.resourceType : b.resourceType === '*' || b.resourceType === a.resourceType ? a.resourceType : undefined;
  const interactions = new Set([...a.interactions].filter((p) => b.interactions.has(p)));
  if (resourceType === undefined || interactions.size === 0) {
    return undefined;
  }
  // Two different granular constraints would need both to hold; rather than compose search
  // queries, grant nothing for that pair (narrower is safe).
  if (a.query !== undefined && b.query !== undefined && a.query !== b.query) {
    return undefined;
  }
  return { context: a.context, resourceType, interactions, query: a.query ?? b.query };
}

function isSame(common: Omit<ResourceScope, 'syntax'>, requested: ResourceScope): boolean {
  return (
    common.resourceType === requested.resourceType &&
    common.query === requested.query &&
    common.interactions.size === requested.interactions.size
  );
}
