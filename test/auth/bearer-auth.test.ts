import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { base64url, decodeJwt, generateKeyPair, SignJWT } from 'jose';
import request from 'supertest';
import { createTestAuthApp, testConfig } from './auth-test-app';

const FHIR_AUDIENCE = 'http://dermbridge.test/fhir/R4';

describe('bearer-auth middleware', () => {
  const { app, auth, db } = createTestAuthApp();
  const grant = { clientId: 'clinic-app', scopes: ['user/*.cruds'], fhirUser: 'Practitioner/doc' };

  it('admits a valid token and exposes the access context', async () => {
    const { accessToken, tokenId } = await auth.issueAccessToken(grant);
    const res = await request(app).get('/fhir/R4/whoami').set('Authorization', `Bearer ${accessToken}`).expect(200);
    assert.deepEqual(res.body, { clientId: 'clinic-app', subject: 'Practitioner/doc', scopes: ['user/*.cruds'], tokenId });
  });

  it('carries the patient context of a patient token', async () => {
    const { accessToken } = await auth.issueAccessToken({ clientId: 'portal', scopes: ['patient/*.rs'], fhirUser: 'Patient/a', patientId: 'a' });
    const res = await request(app).get('/fhir/R4/whoami').set('Authorization', `bearer ${accessToken}`).expect(200);
    assert.equal(res.body.patientId, 'a');
    assert.equal(res.body.subject, 'Patient/a');
  });

  it('answers a request without a token with 401, a bare Bearer challenge and a login OperationOutcome', async () => {
    const res = await request(app).get('/fhir/R4/whoami').expect(401);
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="dermbridge"');
    assert.match(res.headers['content-type'], /application\/fhir\+json/);
    assert.equal(res.body.resourceType, 'OperationOutcome');
    assert.equal(res.body.issue[0].code, 'login');
    assert.match(res.body.issue[0].diagnostics, /Missing bearer token/);
  });

  it('refuses an expired token with 401 invalid_token and says it expired', async () => {
    const { accessToken } = await auth.issueAccessToken({ ...grant, lifetimeSeconds: -5 });
    const res = await request(app).get('/fhir/R4/whoami').set('Authorization', `Bearer ${accessToken}`).expect(401);
    assert.match(res.headers['www-authenticate'], /error="invalid_token"/);
    assert.equal(res.body.issue[0].code, 'login');
    assert.equal(res.body.issue[0].diagnostics, 'Access token expired');
  });

  it('refuses a token that stops being valid after it was cached', async () => {
    const { accessToken } = await auth.issueAccessToken({ ...grant, lifetimeSeconds: 1 });
    await request(app).get('/fhir/R4/whoami').set('Authorization', `Bearer ${accessToken}`).expect(200);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await request(app).get('/fhir/R4/whoami').set('Authorization', `Bearer ${accessToken}`).expect(401);
  });

  it("refuses a token signed by another key under the server's kid", async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({ client_id: 'x', scope: 'system/*.cruds' })
      .setProtectedHeader({ alg: 'ES256', kid: auth.keys.kid, typ: 'at+jwt' })
      .setIssuer(testConfig().baseUrl)
      .setAudience(FHIR_AUDIENCE)
      .setSubject('ClientApplication/x')
      .setJti('j')
      .setExpirationTime('5m')
      .sign(privateKey);
    const res = await request(app).get('/fhir/R4/whoami').set('Authorization', `Bearer ${forged}`).expect(401);
    assert.equal(res.body.issue[0].code, 'security');
    assert.match(res.body.issue[0].diagnostics, /signature/);
  });

  it('refuses a token from another server (unknown kid)', async () => {
    const other = createTestAuthApp();
    const { accessToken } = await other.auth.issueAccessToken(grant);
    const res = await request(app).get('/fhir/R4/whoami').set('Authorization', `Bearer ${accessToken}`).expect(401);
    assert.match(res.body.issue[0].diagnostics, /not signed by this server/);
  });

  it('refuses a token whose payload was altered', async () => {
    const { accessToken } = await auth.issueAccessToken({ ...grant, scopes: ['user/Patient.r'] });
    const [header, , signature] = accessToken.split('.');
    const payload = { ...decodeJwt(accessToken), scope: 'system/*.cruds' };
    const tampered = `${header}.${base64url.encode(JSON.stringify(payload))}.${signature}`;
    await request(app).get('/fhir/R4/whoami').set('Authorization', `Bearer ${tampered}`).expect(401);
  });

  it('refuses an unsigned token (alg none)', async () => {
    const { accessToken } = await auth.issueAccessToken(grant);
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: auth.keys.kid }));
    const payload = accessToken.split('.')[1];
    const res = await request(app).get('/fhir/R4/whoami').set('Authorization', `Bearer ${header}.${payload}.`).expect(401);
    assert.match(res.body.issue[0].diagnostics, /algorithm/);
  });

  it('refuses an HS256 token keyed with the public key (algorithm confusion)', async () => {
    const publicJwk = JSON.stringify(auth.keys.jwks().keys[0]);
    const token = await new SignJWT({ client_id: 'x', scope: 'system/*.cruds' })
      .setProtectedHeader({ alg: 'HS256', kid: auth.keys.kid, typ: 'at+jwt' })
      .setIssuer(testConfig().baseUrl)
      .setAudience(FHIR_AUDIENCE)
      .setSubject('s')
      .setJti('j')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(publicJwk));
    await request(app).get('/fhir/R4/whoami').set('Authorization', `Bearer ${token}`).expect(401);
  });

  it('refuses a malformed token', async () => {
    const res = await request(app).get('/fhir/R4/whoami').set('Authorization', 'Bearer abc.def').expect(401);
    assert.match(res.body.issue[0].diagnostics, /malformed/);
    await request(app).get('/fhir/R4/whoami').set('Authorization', 'Basic YTpi').expect(401);
  });

  it('refuses a token issued for another base URL even when signed with a shared key', async () => {
    const elsewhere = createTestAuthApp({ db, config: testConfig({ baseUrl: 'http://elsewhere.test/' }) });
    const { accessToken } = await elsewhere.auth.issueAccessToken(grant);
    const res = await request(app).get('/fhir/R4/whoami').set('Authorization', `Bearer ${accessToken}`).expect(401);
    assert.match(res.body.issue[0].diagnostics, /iss/);
  });
});

describe('bearer-auth across processes sharing a database', () => {
  it('verifies a token issued by another instance on the same database', async () => {
    const db = new DatabaseSync(':memory:');
    const first = createTestAuthApp({ db });
    const second = createTestAuthApp({ db });
    assert.equal(first.auth.keys.kid, second.auth.keys.kid);
    const { accessToken } = await first.auth.issueAccessToken({ clientId: 'c', scopes: ['system/*.rs'] });
    await request(second.app).get('/fhir/R4/whoami').set('Authorization', `Bearer ${accessToken}`).expect(200);
  });
});
