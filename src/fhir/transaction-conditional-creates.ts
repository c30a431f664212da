import { multipleMatches, OperationOutcomeError, parseSearchRequest } from '@medplum/core';
import type { FhirRepository } from '@medplum/fhir-router';
import type { Bundle, BundleEntry } from '@medplum/fhirtypes';

/**
 * Medplum's batch processor refuses a transaction with a conditional create (`ifNoneExist`) once it
 * has more than 8 entries: on Postgres such a transaction needs SERIALIZABLE isolation, which
 * Medplum keeps short. Our store has one writer, so every transaction is serializable anyway, and a
 * case submission (a Patient matched on its identifier + answers + photos + request + task) is
 * always larger than that.
 *
 * So, inside the caller's transaction, each conditional create is resolved here first, exactly as
 * FHIR defines it (https://hl7.org/fhir/R4/http.html#ccreate): no match → an ordinary create; one
 * match → no create, a `GET` of the match (answered 200), and every reference to the entry's
 * fullUrl now points at it; several → 412. The rewritten bundle then goes to the router.
 */
export async function resolveConditionalCreates(bundle: Bundle, repo: FhirRepository): Promise<Bundle> {
  const entries = bundle.entry ?? [];
  if (!entries.some((e) => e.request?.method === 'POST' && e.request.ifNoneExist)) {
    return bundle;
  }
  const replacements = new Map<string, string>();
  const rewritten: BundleEntry[] = [];
  for (const entry of entries) {
    const ifNoneExist = entry.request?.method === 'POST' ? entry.request.ifNoneExist : undefined;
    if (!ifNoneExist || !entry.resource) {
      rewritten.push(entry);
      continue;
    }
    const type = entry.resource.resourceType;
    const search = parseSearchRequest(`${type}?${ifNoneExist}`);
    const matches = await repo.searchResources({ ...search, count: 2, sortRules: undefined });
    if (matches.length > 1) {
      throw new OperationOutcomeError(multipleMatches, undefined);
    }
    if (matches.length === 0) {
      const { ifNoneExist: _dropped, ...request } = entry.request ?? {};
      rewritten.push({ ...entry, request: request as BundleEntry['request'] });
      continue;
    }
    const existing = `${type}/${matches[0].id}`;
    if (entry.fullUrl) {
      replacements.set(entry.fullUrl, existing);
    }
    rewritten.push({ fullUrl: entry.fullUrl, request: { method: 'GET', url: existing } });
  }
  const result: Bundle = { ...bundle, entry: rewritten };
  return replacements.size ? (replaceReferences(result, replacements) as Bundle) : result;
}

function replaceReferences(value: unknown, replacements: Map<string, string>): unknown {
  if (Array.isArray(value)) {
    return value.map((item) => replaceReferences(item, replacements));
  }
  if (!value || typeof value !== 'object') {
    return value;
  }
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    out[key] =
      key === 'reference' && typeof child === 'string' && replacements.has(child)
        ? replacements.get(child)
        : replaceReferences(child, replacements);
  }
  return out;
}
