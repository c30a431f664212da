/**
 * Reads one resource from an EHR's FHIR API with the EHR access token the browser holds. A
 * successful read proves the token is live at that EHR and lets its holder see that resource (the
 * clinician, the launch patient); the EHR, not the browser, says what the resource contains.
 * Only `{configured FHIR base}/{Type}/{id}` is ever fetched (no redirects followed).
 * https://hl7.org/fhir/R4/http.html#read
 */
import type { Resource } from '@medplum/fhirtypes';
import { EhrUnreachableError } from './ehr-id-token';

const FETCH_TIMEOUT_MS = 5000;
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** The EHR refused the access token or the read (401/403/404): the caller answers `invalid_grant`. */
export class EhrReadRefusedError extends Error {}

/**
 * `Practitioner/123` or `{fhirBase}/Practitioner/123` (Epic sends absolute URLs) → `Practitioner/123`,
 * only when it names a resource on this EHR's FHIR base.
 */
export function relativeReference(fhirBase: string, reference: string, allowedTypes: readonly string[]): string | undefined {
  const base = fhirBase.replace(/\/+$/, '') + '/';
  const relative = reference.startsWith(base) ? reference.slice(base.length) : /^[A-Za-z]+\/[^/]+$/.test(reference) ? reference : undefined;
  const [type, id, ...rest] = relative?.split('/') ?? [];
  return rest.length === 0 && allowedTypes.includes(type) && FHIR_ID.test(id ?? '') ? `${type}/${id}` : undefined;
}

export async function readFromEhr<T extends Resource>(fhirBase: string, reference: string, accessToken: string, fetchImpl: typeof fetch = fetch): Promise<T> {
  const [type, id] = reference.split('/');
  const url = `${fhirBase.replace(/\/+$/, '')}/${type}/${id}`;
  let res: Response;
  try {
    res = await fetchImpl(url, {
      headers: { authorization: `Bearer ${accessToken}`, accept: 'application/fhir+json' },
      redirect: 'error',
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
  } catch (err) {
    throw new EhrUnreachableError(`Cannot reach the EHR at ${url}: ${(err as Error).message}`);
  }
  if (res.status === 401 || res.status === 403 || res.status === 404) {
    throw new EhrReadRefusedError(`The EHR refused to read ${reference} with this access token (${res.status})`);
  }
  if (!res.ok) {
    throw new EhrUnreachableError(`The EHR answered ${res.status} reading ${reference}`);
  }
  const body = (await res.json().catch(() => undefined)) as T | undefined;
  if (body?.resourceType !== type || body.id !== id) {
    throw new EhrReadRefusedError(`The EHR did not return ${reference}`);
  }
  return body;
}
