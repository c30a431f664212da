import type { MedplumClient } from '@medplum/core';
import type { Identifier, Resource } from '@medplum/fhirtypes';

/**
 * Write helpers that make bots idempotent: compare before writing, so re-running a bot on the
 * same input creates no version. Pure TypeScript (no @medplum/core runtime import) so each bot's
 * CommonJS bundle stays small and loads in Medplum's vmcontext sandbox.
 */

/** JSON with object keys sorted: equal content gives equal text whatever the key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
}

/** Content equality ignoring id, meta (except profiles) and the listed top-level fields. */
export function sameContent(a: Resource, b: Resource, ignore: readonly string[] = []): boolean {
  const strip = (r: Resource): Record<string, unknown> => {
    const { id: _id, meta, ...rest } = r as Resource & Record<string, unknown>;
    const copy: Record<string, unknown> = { ...rest, profile: meta?.profile ?? [], tag: meta?.tag ?? [] };
    for (const key of ignore) {
      delete copy[key];
    }
    return copy;
  };
  return canonicalJson(strip(a)) === canonicalJson(strip(b));
}

/** Updates `next` only when its content differs from `current`; returns the stored version. */
export async function updateIfChanged<T extends Resource>(medplum: MedplumClient, current: T & { id: string }, next: T & { id: string }): Promise<T & { id: string }> {
  if (sameContent(current, next)) {
    return current;
  }
  return updateFromVersion(medplum, current, next);
}

/**
 * PUT `next` only while the stored version is still the one `current` was read as (If-Match,
 * https://hl7.org/fhir/R4/http.html#concurrency). Two bot runs may change one Task at once (triage
 * its priority, photo quality its status; Medplum runs subscriptions concurrently): without the
 * check the later PUT silently undoes the other's change. A 412 fails this run, and its retry
 * reads the resource again.
 */
export function updateFromVersion<T extends Resource>(medplum: MedplumClient, current: Resource, next: T & { id: string }): Promise<T & { id: string }> {
  const versionId = current.meta?.versionId;
  return medplum.updateResource(next, versionId ? { headers: { 'If-Match': `W/"${versionId}"` } } : undefined) as Promise<T & { id: string }>;
}

export function identifierQuery(identifier: Identifier): string {
  return `${identifier.system}|${identifier.value}`;
}

/**
 * Keeps one resource per business identifier: creates it when missing (conditional create, so
 * two concurrent runs cannot both create), updates it only when `build(existing)` differs.
 */
export async function upsertByIdentifier<T extends Resource & { identifier?: Identifier[] }>(
  medplum: MedplumClient,
  identifier: Identifier,
  build: (existing: (T & { id: string }) | undefined) => T,
  ignore: readonly string[] = []
): Promise<{ resource: T & { id: string }; changed: boolean }> {
  const resourceType = build(undefined).resourceType;
  const query = `identifier=${identifierQuery(identifier)}`;
  const existing = (await medplum.searchOne(resourceType, query)) as (T & { id: string }) | undefined;
  if (!existing) {
    const created = await medplum.createResourceIfNoneExist(build(undefined), query);
    return { resource: created as T & { id: string }, changed: true };
  }
  const next = { ...build(existing), id: existing.id } as T & { id: string };
  if (sameContent(existing, next, ignore)) {
    return { resource: existing, changed: false };
  }
  return { resource: await updateFromVersion(medplum, existing, next), changed: true };
}

export function refOf(resource: Resource & { id?: string }): string {
  return `${resource.resourceType}/${resource.id}`;
}
