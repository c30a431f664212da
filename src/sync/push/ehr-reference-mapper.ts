/**
 * Maps a store resource's references to the EHR's ids: a store resource that came from this EHR
 * carries the EHR id as a source identifier, so `Patient/<store id>` → `Patient/<ehr id>`; any
 * other reference (the reviewing dermatologist, photos) becomes a logical reference.
 */
import type { MedplumClient } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { mapResource, parseReference } from '../reference-mapping';
import { RESULT_ID_SYSTEM, sourceIdSystem, storeIdSystem } from '../sync-identifiers';

export class EhrReferenceMapper {
  private readonly cache = new Map<string, string | undefined>();

  constructor(
    private readonly store: MedplumClient,
    private readonly ehrName: string
  ) {}

  /** The resource as the EHR should store it, with our result identifier added. */
  async toEhr(resource: Resource): Promise<Resource> {
    for (const ref of collectReferences(resource)) {
      await this.resolve(ref);
    }
    const mapped = mapResource(resource, (type, id) => this.cache.get(`${type}/${id}`), storeIdSystem);
    // The EHR does not know our profiles; claiming them there would only get the write refused.
    delete mapped.meta;
    const withId = mapped as Resource & { identifier?: { system?: string; value?: string }[] };
    const key = `${resource.resourceType}/${resource.id}`;
    withId.identifier = [...(withId.identifier ?? []).filter((i) => i.system !== RESULT_ID_SYSTEM), { system: RESULT_ID_SYSTEM, value: key }];
    return withId;
  }

  private async resolve(reference: string): Promise<void> {
    if (this.cache.has(reference)) {
      return;
    }
    const parsed = parseReference(reference);
    let ehrRef: string | undefined;
    if (parsed) {
      const [type, id] = parsed;
      const stored = (await this.store.readResource(type as 'Patient', id).catch(() => undefined)) as (Resource & { identifier?: { system?: string; value?: string }[] }) | undefined;
      const ehrId = stored?.identifier?.find((i) => i.system === sourceIdSystem(this.ehrName, type))?.value;
      ehrRef = ehrId ? `${type}/${ehrId}` : undefined;
    }
    this.cache.set(reference, ehrRef);
  }
}

function collectReferences(value: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    value.forEach((v) => collectReferences(v, out));
  } else if (value && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      if (key === 'reference' && typeof v === 'string' && !v.startsWith('#')) {
        out.add(v);
      } else {
        collectReferences(v, out);
      }
    }
  }
  return out;
}
