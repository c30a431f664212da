/**
 * Identifier-keyed upsert into the case store through the MedplumClient seam: search by the
 * identifier, then create (conditional, `If-None-Exist`, so two racing syncs still make one),
 * skip (same content: nothing is written, so a re-run changes nothing), or update with `If-Match`
 * on the version read. Works the same on the embedded store and on a real Medplum server.
 */
import type { MedplumClient } from '@medplum/core';
import { deepEquals, normalizeErrorString } from '@medplum/core';
import type { Identifier, Resource } from '@medplum/fhirtypes';

export type UpsertOutcome = 'created' | 'updated' | 'unchanged';

export interface UpsertResult<T extends Resource> {
  readonly outcome: UpsertOutcome;
  /** The stored resource; in a dry run, what would be stored (with a placeholder id when new). */
  readonly resource: T & { id: string };
}

export const DRY_RUN_ID = 'dry-run-not-created';

export async function upsertByIdentifier<T extends Resource>(
  store: MedplumClient,
  resource: T,
  key: Identifier,
  dryRun = false
): Promise<UpsertResult<T>> {
  const query = `identifier=${encodeURIComponent(`${key.system}|${key.value}`)}`;
  const matches = await store.searchResources(resource.resourceType, query, { cache: 'no-cache' });
  if (matches.length > 1) {
    throw new Error(`${matches.length} ${resource.resourceType} resources share identifier ${key.system}|${key.value}; resolve the duplicate first`);
  }
  const existing = matches[0] as (T & { id: string }) | undefined;
  if (!existing) {
    if (dryRun) {
      return { outcome: 'created', resource: { ...resource, id: DRY_RUN_ID } };
    }
    const created = await store.createResourceIfNoneExist(resource, query);
    return { outcome: 'created', resource: created as T & { id: string } };
  }
  if (sameContent(existing, resource)) {
    return { outcome: 'unchanged', resource: existing };
  }
  if (dryRun) {
    return { outcome: 'updated', resource: { ...resource, id: existing.id } };
  }
  const updated = await store.updateResource({ ...resource, id: existing.id } as T & { id: string }, {
    headers: { 'If-Match': `W/"${existing.meta?.versionId ?? ''}"` },
  });
  return { outcome: 'updated', resource: updated as T & { id: string } };
}

/** Equal apart from id and server metadata (a real Medplum adds meta.author, meta.project...). */
export function sameContent(stored: Resource, candidate: Resource): boolean {
  const strip = (r: Resource): Record<string, unknown> => {
    const { id: _id, meta, ...rest } = r;
    return { ...rest, profile: meta?.profile ?? [], tag: meta?.tag ?? [] };
  };
  return deepEquals(strip(stored), strip(candidate));
}

/** A failure message an operator can act on (the store's OperationOutcome diagnostics, if any). */
export function failureReason(err: unknown): string {
  return normalizeErrorString(err);
}
