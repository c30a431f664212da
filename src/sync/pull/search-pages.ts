/**
 * Walks a FHIR search through its `next` links, refusing pages that loop: a `next` URL already
 * visited, or a page holding only resources this walk has already seen (a server that ignores
 * its own paging parameters). https://hl7.org/fhir/R4/http.html#paging
 */
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { EhrError, type EhrClient } from '../ehr-client';

export const DEFAULT_MAX_PAGES = 10_000;

export async function* searchPages<T extends Resource = Resource>(ehr: EhrClient, firstUrl: string, maxPages = DEFAULT_MAX_PAGES): AsyncGenerator<Bundle<T>> {
  const visited = new Set<string>();
  const seenResources = new Set<string>();
  let url: string | undefined = firstUrl;
  while (url) {
    if (visited.has(url)) {
      throw new EhrError('ERR_EHR_PAGING_LOOP', `EHR paging loops: next link ${url} was already visited`);
    }
    if (visited.size >= maxPages) {
      throw new EhrError('ERR_EHR_PAGING_LOOP', `EHR search did not end after ${maxPages} pages`);
    }
    visited.add(url);
    const { body }: { body: Bundle<T> } = await ehr.get<Bundle<T>>(url);
    if (body?.resourceType !== 'Bundle') {
      throw new EhrError('ERR_EHR_MALFORMED_JSON', `EHR answered search ${url} with ${String((body as Resource | undefined)?.resourceType ?? 'no resource')}, not a Bundle`);
    }
    const keys = (body.entry ?? []).filter((e) => e.resource).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);
    if (keys.length > 0 && keys.every((k) => seenResources.has(k))) {
      throw new EhrError('ERR_EHR_PAGING_LOOP', `EHR paging loops: page ${url} repeats resources already received`);
    }
    keys.forEach((k) => seenResources.add(k));
    yield body;
    url = body.link?.find((l) => l.relation === 'next')?.url;
  }
}
