/**
 * Small helpers for tests that talk FHIR over HTTP to a test server: one authenticated client
 * per token, and the assertions every FHIR test repeats (an OperationOutcome error, a created
 * resource).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Bundle, OperationOutcome, Resource } from '@medplum/fhirtypes';
import request from 'supertest';
import type { Response, Test } from 'supertest';

export const FHIR_JSON = 'application/fhir+json';

export type Stored<T extends Resource> = T & { id: string; meta: { versionId: string; lastUpdated: string } };

export interface FhirHttp {
  get(path: string, headers?: Record<string, string>): Test;
  post(path: string, body: unknown, headers?: Record<string, string>): Test;
  put(path: string, body: unknown, headers?: Record<string, string>): Test;
  patch(path: string, body: unknown, headers?: Record<string, string>): Test;
  delete(path: string, headers?: Record<string, string>): Test;
  /** POSTs the resource and asserts 201; returns what the server stored. */
  create<T extends Resource>(resource: T): Promise<Stored<T>>;
  /** GETs a search and asserts 200 and a searchset Bundle. */
  search<T extends Resource = Resource>(query: string): Promise<Bundle<Stored<T>>>;
}

/**
 * A FHIR client for `/fhir/R4/` of the server at `baseUrl`, sending `token` (or none when
 * undefined). Paths are relative to the FHIR base: `Patient/123`, `Observation?code=x`.
 */
export function fhirHttp(baseUrl: string, token: string | undefined): FhirHttp {
  const root = baseUrl.replace(/\/+$/, '');
  const withHeaders = (test: Test, headers: Record<string, string> = {}): Test => {
    if (token !== undefined) {
      test.set('Authorization', `Bearer ${token}`);
    }
    test.set('Accept', FHIR_JSON);
    for (const [name, value] of Object.entries(headers)) {
      test.set(name, value);
    }
    return test;
  };
  const url = (path: string): string => `/fhir/R4/${path.replace(/^\/+/, '')}`;
  const send = (test: Test, body: unknown, headers: Record<string, string> = {}): Test =>
    withHeaders(test, { 'Content-Type': FHIR_JSON, ...headers }).send(typeof body === 'string' ? body : JSON.stringify(body));
  const client: FhirHttp = {
    get: (path, headers) => withHeaders(request(root).get(url(path)), headers),
    post: (path, body, headers) => send(request(root).post(url(path)), body, headers),
    put: (path, body, headers) => send(request(root).put(url(path)), body, headers),
    patch: (path, body, headers) =>
      send(request(root).patch(url(path)), body, { 'Content-Type': 'application/json-patch+json', ...headers }),
    delete: (path, headers) => withHeaders(request(root).delete(url(path)), headers),
    async create<T extends Resource>(resource: T): Promise<Stored<T>> {
      const res = await client.post(resource.resourceType, resource);
      assert.equal(res.status, 201, `create ${resource.resourceType}: ${res.status} ${res.text}`);
      return res.body as Stored<T>;
    },
    async search<T extends Resource>(query: string): Promise<Bundle<Stored<T>>> {
      const res = await client.get(query);
      assert.equal(res.status, 200, `search ${query}: ${res.status} ${res.text}`);
      assert.equal(res.body.resourceType, 'Bundle');
      assert.equal(res.body.type, 'searchset');
      return res.body as Bundle<Stored<T>>;
    },
  };
  return client;
}

/** Asserts an error response: the status, an OperationOutcome body with at least one error issue, FHIR JSON. */
export function assertOutcome(res: Response, status: number): OperationOutcome {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text}`);
  assert.match(res.headers['content-type'] ?? '', /application\/fhir\+json/);
  const outcome = (res.body && Object.keys(res.body).length ? res.body : JSON.parse(res.text)) as OperationOutcome;
  assert.equal(outcome.resourceType, 'OperationOutcome');
  assert.ok(
    outcome.issue?.some((i) => i.severity === 'error' || i.severity === 'fatal'),
    `expected an error issue: ${JSON.stringify(outcome)}`
  );
  return outcome;
}

/** The resources of a Bundle's entries, optionally only those of one search mode. */
export function resourcesOf<T extends Resource>(bundle: Bundle<T>, mode?: 'match' | 'include'): T[] {
  return (bundle.entry ?? []).filter((e) => !mode || e.search?.mode === mode).map((e) => e.resource as T);
}

/** `Type/id` of each resource, sorted, for order-independent comparison. */
export function refsOf(resources: readonly Resource[]): string[] {
  return resources.map((r) => `${r.resourceType}/${r.id}`).sort();
}

/** A value no other test uses, for identifiers and names that must match only this test's data. */
export function unique(prefix = 'u'): string {
  return `${prefix}-${randomUUID()}`;
}

/** The identifier system every FHIR test uses for its own MRNs. */
export const MRN = 'urn:dermbridge:test:mrn';
