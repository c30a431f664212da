/**
 * Regressions found by the fuzzers (test/security/fuzz), pinned as plain tests so that each one
 * names its input: malformed input answers 4xx in the surface's own error format, never 5xx.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { assertOutcome, fhirHttp } from '../support/fhir-http';
import { startTestServer, type TestServer } from '../support/test-server';

describe('malformed input found by fuzzing', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
  });

  after(async () => {
    await server.close();
  });

  it('answers 401 to a bearer token whose kid header is not a string', async () => {
    const real = await server.adminToken();
    const [header, payload, signature] = real.split('.');
    const claims = JSON.parse(Buffer.from(header, 'base64url').toString());
    for (const kid of [{ a: false }, 42, ['x'], null]) {
      const mangled = `${Buffer.from(JSON.stringify({ ...claims, kid })).toString('base64url')}.${payload}.${signature}`;
      const res = await fhirHttp(server.baseUrl, mangled).get(`Patient/${randomUUID()}`);
      assertOutcome(res, 401);
    }
  });

  it('answers 400 to a transaction or batch Bundle whose entry is not an array', async () => {
    const admin = fhirHttp(server.baseUrl, await server.adminToken());
    for (const type of ['transaction', 'batch']) {
      for (const entry of [1, 'x', {}, true]) {
        assertOutcome(await admin.post('', { resourceType: 'Bundle', type, entry }), 400);
      }
    }
  });

  it('answers 400 without JavaScript internals to a batch entry that is null', async () => {
    const admin = fhirHttp(server.baseUrl, await server.adminToken());
    const res = await admin.post('', { resourceType: 'Bundle', type: 'batch', entry: [null] });
    assertOutcome(res, 400);
    assert.doesNotMatch(res.text, /Cannot read properties|undefined|null \(reading/);
  });

  it('answers 400 to a non-numeric _count or _offset', async () => {
    const admin = fhirHttp(server.baseUrl, await server.adminToken());
    for (const query of ['_count=abc', '_offset=abc', '_offset=%00', '_count=%00']) {
      const res = await admin.get(`Patient?${query}`);
      assert.ok(res.status === 400, `${query}: ${res.status} ${res.text}`);
    }
  });

  it('answers 400 to a resource whose meta.profile is an empty string', async () => {
    const admin = fhirHttp(server.baseUrl, await server.adminToken());
    assertOutcome(await admin.post('Patient', { resourceType: 'Patient', meta: { profile: '' } }), 400);
    assertOutcome(await admin.post('DiagnosticReport', { resourceType: 'DiagnosticReport', status: 'final', code: { text: 'x' }, meta: { profile: '' } }), 400);
  });

  it('answers 400 to a Binary whose data is not a base64 string, alone or inside a transaction', async () => {
    const admin = fhirHttp(server.baseUrl, await server.adminToken());
    for (const data of [{ reference: 'Patient/a/b' }, 42, ['x'], true]) {
      assertOutcome(await admin.post('Binary', { resourceType: 'Binary', contentType: 'image/png', data }), 400);
      const tx = { resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'POST', url: 'Binary' }, resource: { resourceType: 'Binary', contentType: 'image/png', data } }] };
      assertOutcome(await admin.post('', tx), 400);
    }
  });

  it('answers 400 naming Task.meta.profile to a Task whose meta.profile is not an array', async () => {
    const admin = fhirHttp(server.baseUrl, await server.adminToken());
    const res = await admin.post('Task', { resourceType: 'Task', status: 'requested', intent: 'order', meta: { profile: 'https://example.org/x' } });
    const outcome = assertOutcome(res, 400);
    assert.match(JSON.stringify(outcome), /meta\.profile/);
  });
});
