import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BackendServicesClient } from '../../src/sync/backend-services/token-client';
import { EhrClient, EhrError } from '../../src/sync/ehr-client';

/** A mock EHR answering from a queue of canned responses (status, headers, body). */
async function mockEhr(responses: { status: number; headers?: Record<string, string>; body: string }[]): Promise<{ url: string; hits: string[]; server: Server }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.headers.authorization ?? ''} ${req.url}`);
    const next = responses.shift() ?? { status: 500, body: '{}' };
    res.writeHead(next.status, { 'content-type': 'application/fhir+json', ...next.headers });
    res.end(next.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`, hits, server };
}

function fakeTokens(): BackendServicesClient & { issued: number } {
  const t = {
    issued: 0,
    accessToken: async () => `token-${t.issued || ++t.issued}`,
    invalidate: () => {
      t.issued++;
    },
  };
  return t as unknown as BackendServicesClient & { issued: number };
}

describe('EhrClient', () => {
  const sleeps: number[] = [];
  const sleep = async (ms: number): Promise<void> => {
    sleeps.push(ms);
  };
  beforeEach(() => {
    sleeps.length = 0;
  });

  it('waits as long as Retry-After says, then succeeds', async () => {
    const ehr = await mockEhr([
      { status: 429, headers: { 'retry-after': '2' }, body: '{}' },
      { status: 200, body: '{"resourceType":"Patient","id":"p"}' },
    ]);
    try {
      const client = await EhrClient.create({ fhirBaseUrl: ehr.url, tokens: fakeTokens(), sleep });
      const res = await client.get('Patient/p');
      assert.equal(res.body.id, 'p');
      assert.deepEqual(sleeps, [2000]);
    } finally {
      ehr.server.close();
    }
  });

  it('gives up after maxAttempts with ERR_EHR_UNAVAILABLE, backing off exponentially', async () => {
    const ehr = await mockEhr(Array.from({ length: 5 }, () => ({ status: 503, body: '{}' })));
    try {
      const client = await EhrClient.create({ fhirBaseUrl: ehr.url, tokens: fakeTokens(), sleep, retry: { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 10_000 } });
      await assert.rejects(client.get('Patient'), (err: EhrError) => err.code === 'ERR_EHR_UNAVAILABLE' && err.status === 503);
      assert.equal(sleeps.length, 3);
      assert.ok(sleeps[2] > sleeps[0], `delays grow: ${sleeps.join(', ')}`);
    } finally {
      ehr.server.close();
    }
  });

  it('fetches a new token once after a 401', async () => {
    const ehr = await mockEhr([
      { status: 401, body: '{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"login"}]}' },
      { status: 200, body: '{"resourceType":"Bundle","type":"searchset"}' },
    ]);
    try {
      const client = await EhrClient.create({ fhirBaseUrl: ehr.url, tokens: fakeTokens(), sleep });
      await client.get('Patient');
      assert.match(ehr.hits[0], /^Bearer token-1 /);
      assert.match(ehr.hits[1], /^Bearer token-2 /);
    } finally {
      ehr.server.close();
    }
  });

  it('reports malformed JSON and a 200 OperationOutcome with stable codes', async () => {
    const ehr = await mockEhr([
      { status: 200, body: '<html>gateway</html>' },
      { status: 200, body: '{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"processing","diagnostics":"search timed out"}]}' },
    ]);
    try {
      const client = await EhrClient.create({ fhirBaseUrl: ehr.url, tokens: fakeTokens(), sleep });
      await assert.rejects(client.get('Patient'), (err: EhrError) => err.code === 'ERR_EHR_MALFORMED_JSON');
      await assert.rejects(client.get('Patient'), (err: EhrError) => err.code === 'ERR_EHR_OPERATION_OUTCOME' && /search timed out/.test(err.message));
    } finally {
      ehr.server.close();
    }
  });
});
