/**
 * SMART App Launch resource scopes: parsing (v2 and v1 syntax) and the access decision every FHIR
 * handler asks for.
 * https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html
 */
import type { AccessContext, AccessDecision, ScopeInteraction } from './access-context';

export type ScopeContext = 'patient' | 'user' | 'system';

/** A `<context>/<Type|*>.<permissions>[?query]` scope, normalised to SMART v2 permissions. */
export interface ResourceScope {
  readonly context: ScopeContext;
  /** A FHIR resource type, or `*` for all. */
  readonly resourceType: string;
  /** Permitted interactions; v1 `read` = r s, `write` = c u d, `*` = c r u d s. */
  readonly interactions: ReadonlySet<ScopeInteraction>;
  /** v2 granular constraint, the FHIR search query after `?` (e.g. `category=...|laboratory`). */
  readonly query?: string;
  readonly syntax: 'v1' | 'v2';
}

/** FHIR REST interactions, as the FHIR layer names them. */
export type FhirInteraction = 'read' | 'vread' | 'history' | 'search' | 'create' | 'update' | 'patch' | 'delete';

/** SMART v2 permission order; a v2 scope must list its letters in this order. */
const CRUDS: readonly ScopeInteraction[] = ['c', 'r', 'u', 'd', 's'];

const V1_PERMISSIONS: Readonly<Record<string, readonly ScopeInteraction[]>> = {
  read: ['r', 's'],
  write: ['c', 'u', 'd'],
  '*': CRUDS,
};

const INTERACTION_PERMISSION: Readonly<Record<FhirInteraction, ScopeInteraction>> = {
  read: 'r',
  vread: 'r',
  history: 'r',
  search: 's',
  create: 'c',
  update: 'u',
  patch: 'u',
  delete: 'd',
};

const SCOPE_PATTERN = /^(patient|user|system)\/([A-Z][A-Za-z]*|\*)\.([a-z*]+)(?:\?(.+))?$/;
const V2_PERMISSIONS_PATTERN = /^c?r?u?d?s?$/;

/** The SMART v2 permission letter a FHIR interaction needs (read/vread/history → r, search → s, ...). */
export function scopeInteractionFor(interaction: FhirInteraction): ScopeInteraction {
  return INTERACTION_PERMISSION[interaction];
}

/**
 * Parses one resource scope. Returns undefined for anything else (`openid`, `launch/patient`,
 * `offline_access`) and for malformed scopes, which then grant nothing.
 */
export function parseResourceScope(scope: string): ResourceScope | undefined {
  const match = SCOPE_PATTERN.exec(scope);
  if (!match) {
    return undefined;
  }
  const [, context, resourceType, permissions, query] = match;
  const v1 = V1_PERMISSIONS[permissions];
  if (v1) {
    // v1 has no granular constraints; `patient/Observation.read?x=y` is not a scope of either version.
    return query === undefined ? { context: context as ScopeContext, resourceType, interactions: new Set(v1), syntax: 'v1' } : undefined;
  }
  if (!V2_PERMISSIONS_PATTERN.test(permissions) || (query !== undefined && !isSearchQuery(query))) {
    return undefined;
  }
  const interactions = new Set(permissions.split('') as ScopeInteraction[]);
  return { context: context as ScopeContext, resourceType, interactions, query, syntax: 'v2' };
}

/** Formats a scope in v2 syntax (permissions in `cruds` order). */
export function formatResourceScope(scope: Omit<ResourceScope, 'syntax'>): string {
  const permissions = CRUDS.filter((p) => scope.interactions.has(p)).join('');
  return `${scope.context}/${scope.resourceType}.${permissions}${scope.query === undefined ? '' : '?' + scope.query}`;
}

/**
 * Decides whether the token's scopes allow `interaction` on `resourceType`.
 * `patient/` scopes are limited to the token's patient compartment and count only when the token
 * has a patient in context; `user/` and `system/` scopes are limited only by the server's own rules.
 * When several scopes cover the request the widest kind wins, in this order: unrestricted, patient
 * compartment, granular filters, compartment plus filters. A union of different kinds (e.g. "this
 * patient's Observations or any lab Observation") is not expressible in one decision, so the wider
 * kind is returned alone: the answer may be narrower than the scopes, never wider.
 */
export function authorizeInteraction(access: AccessContext, resourceType: string, interaction: ScopeInteraction): AccessDecision {
  const covering = access.scopes
    .map(parseCached)
    .filter((s): s is ResourceScope => s !== undefined && coversRequest(s, resourceType, interaction));
  if (covering.length === 0) {
    return { allowed: false, reason: `No granted scope permits '${interaction}' on ${resourceType}` };
  }
  const wide = covering.filter((s) => s.context !== 'patient');
  const compartmentLimited = access.patientId === undefined ? [] : covering.filter((s) => s.context === 'patient');
  if (wide.some((s) => s.query === undefined)) {
    return { allowed: true };
  }
  const compartment = `Patient/${access.patientId}`;
  if (compartmentLimited.some((s) => s.query === undefined)) {
    return { allowed: true, compartment };
  }
  if (wide.length > 0) {
    return { allowed: true, filters: uniqueQueries(wide) };
  }
  if (compartmentLimited.length > 0) {
    return { allowed: true, compartment, filters: uniqueQueries(compartmentLimited) };
  }
  return { allowed: false, reason: `Only patient/ scopes permit '${interaction}' on ${resourceType}, and the token has no patient in context` };
}

function coversRequest(scope: ResourceScope, resourceType: string, interaction: ScopeInteraction): boolean {
  return (scope.resourceType === '*' || scope.resourceType === resourceType) && scope.interactions.has(interaction);
}

function uniqueQueries(scopes: readonly ResourceScope[]): string[] {
  return [...new Set(scopes.map((s) => s.query as string))];
}

/** `name=value(&name=value)*` with non-empty names and values, as SMART's granular scopes use. */
function isSearchQuery(query: string): boolean {
  return query.split('&').every((pair) => /^[^=&?\s]+=[^=&?\s]+$/.test(pair));
}

// Scopes repeat across requests (one token, many calls), so parse each distinct string once.
// Bounded so a flood of distinct scope strings cannot grow memory.
const PARSE_CACHE_LIMIT = 1000;
const parseCache = new Map<string, ResourceScope | undefined>();

function parseCached(scope: string): ResourceScope | undefined {
  if (parseCache.has(scope)) {
    return parseCache.get(scope);
  }
  const parsed = parseResourceScope(scope);
  if (parseCache.size >= PARSE_CACHE_LIMIT) {
    parseCache.clear();
  }
  parseCache.set(scope, parsed);
  return parsed;
}
