import assert from 'node:assert/strict';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import request from 'supertest';
import { BASE_URL, createTestAuthApp, DEMO } from './auth-test-app';

function basic(id: string, secret: string): string {
  return 'Basic ' + Buffer.from(`${id}:${secret}`).toString('base64');
}

describe('POST /oauth2/token', () => {
  const { app, auth } = createTestAuthApp();
  before(() => {
    auth.clients.registerClient({ clientId: 'reader', secret: 'reader-secret', scopes: ['system/Patient.rs', 'system/Observation.rs'] });
    auth.clients.registerClient({ clientId: 'patient-a-app', secret: 'patient-a-secret', scopes: ['patient/*.cruds'], fhirUser: 'Patient/a', patientId: 'a' });
  });

  it('issues a token for client_credentials with the secret in the form (client_secret_post)', async () => {
    const res = await request(app)
      .post('/oauth2/token')
      .type('form')
      .send({ grant_type: 'client_credentials', client_id: DEMO.clientId, client_secret: DEMO.clientSecret })
      .expect(200);
    assert.equal(res.body.token_type, 'Bearer');
    assert.equal(res.body.expires_in, 3600);
    assert.equal(res.body.scope, 'system/*.cruds');
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.deepEqual(res.body.project, { reference: 'Project/dermbridge', display: 'dermbridge' });
    assert.deepEqual(res.body.profile, { reference: `ClientApplication/${DEMO.clientId}` });
    const claims = decodeJwt(res.body.access_token);
    assert.equal(claims.iss, BASE_URL);
    assert.equal(claims.sub, `ClientApplication/${DEMO.clientId}`);
    assert.equal(claims.client_id, DEMO.clientId);
    assert.equal(claims.scope, 'system/*.cruds');
    assert.equal(typeof claims.jti, 'string');
    assert.equal((claims.exp as number) - (claims.iat as number), 3600);
    assert.equal(decodeProtectedHeader(res.body.access_token).kid, auth.keys.kid);
  });

  it('issues a token with the secret in an HTTP Basic header (client_secret_basic)', async () => {
    const res = await request(app)
      .post('/oauth2/token')
      .set('Authorization', basic(DEMO.clientId, DEMO.clientSecret))
      .type('form')
      .send({ grant_type: 'client_credentials' })
      .expect(200);
    assert.equal(decodeJwt(res.body.access_token).client_id, DEMO.clientId);
  });

  it('accepts form-encoded Basic credentials as RFC 6749 §2.3.1 writes them', async () => {
    auth.clients.registerClient({ clientId: 'odd', secret: 'p@ss word+%', scopes: ['system/*.rs'] });
    await request(app)
      .post('/oauth2/token')
      .set('Authorization', basic('odd', encodeURIComponent('p@ss word+%')))
      .type('form')
      .send({ grant_type: 'client_credentials' })
      .expect(200);
  });

  it('refuses a wrong secret with 401 invalid_client', async () => {
    const res = await request(app)
      .post('/oauth2/token')
      .type('form')
      .send({ grant_type: 'client_credentials', client_id: DEMO.clientId, client_secret: 'wrong' })
      .expect(401);
    assert.deepEqual(Object.keys(res.body).sort(), ['error', 'error_description']);
    assert.equal(res.body.error, 'invalid_client');
  });

  it('refuses a wrong Basic secret with 401 invalid_client and a Basic challenge', async () => {
    const res = await request(app).post('/oauth2/token').set('Authorization', basic(DEMO.clientId, 'nope')).type('form').send({ grant_type: 'client_credentials' }).expect(401);
    assert.equal(res.body.error, 'invalid_client');
    assert.match(res.headers['www-authenticate'], /^Basic /);
  });

  it('refuses an unknown client with 401 invalid_client', async () => {
    const res = await request(app).post('/oauth2/token').type('form').send({ grant_type: 'client_credentials', client_id: 'ghost', client_secret: 'whatever' }).expect(401);
    assert.equal(res.body.error, 'invalid_client');
  });

  it('refuses a request without client authentication with 401 invalid_client', async () => {
    const res = await request(app).post('/oauth2/token').type('form').send({ grant_type: 'client_credentials', client_id: DEMO.clientId }).expect(401);
    assert.equal(res.body.error, 'invalid_client');
  });

  it('refuses two client authentication methods at once with invalid_request', async () => {
    const res = await request(app)
      .post('/oauth2/token')
      .set('Authorization', basic(DEMO.clientId, DEMO.clientSecret))
      .type('form')
      .send({ grant_type: 'client_credentials', client_id: DEMO.clientId, client_secret: DEMO.clientSecret })
      .expect(400);
    assert.equal(res.body.error, 'invalid_request');
  });

  it('answers an unknown grant type with unsupported_grant_type', async () => {
    const res = await request(app).post('/oauth2/token').type('form').send({ grant_type: 'password', username: 'x', password: 'y' }).expect(400);
    assert.equal(res.body.error, 'unsupported_grant_type');
  });

  it('answers a missing grant type with invalid_request', async () => {
    const res = await request(app).post('/oauth2/token').type('form').send({ client_id: DEMO.clientId }).expect(400);
    assert.equal(res.body.error, 'invalid_request');
  });

  it('refuses a JSON body with invalid_request', async () => {
    const res = await request(app).post('/oauth2/token').send({ grant_type: 'client_credentials' }).expect(400);
    assert.equal(res.body.error, 'invalid_request');
  });

  it('refuses a repeated parameter with invalid_request', async () => {
    const res = await request(app).post('/oauth2/token').type('form').send('grant_type=client_credentials&grant_type=client_credentials').expect(400);
    assert.equal(res.body.error, 'invalid_request');
  });

  it('refuses an oversized body with invalid_request in OAuth format', async () => {
    const res = await request(app).post('/oauth2/token').type('form').send({ grant_type: 'client_credentials', junk: 'x'.repeat(20_000) }).expect(400);
    assert.equal(res.body.error, 'invalid_request');
  });

  it('narrows the requested scopes to those the client is allowed', async () => {
    const res = await request(app)
      .post('/oauth2/token')
      .type('form')
      .send({ grant_type: 'client_credentials', client_id: 'reader', client_secret: 'reader-secret', scope: 'system/Patient.rs system/Patient.u system/Task.rs system/*.read' })
      .expect(200);
    assert.equal(res.body.scope, 'system/Patient.rs system/Observation.rs');
    assert.equal(decodeJwt(res.body.access_token).scope, res.body.scope);
  });

  it('answers invalid_scope when no requested scope is allowed', async () => {
    const res = await request(app)
      .post('/oauth2/token')
      .type('form')
      .send({ grant_type: 'client_credentials', client_id: 'reader', client_secret: 'reader-secret', scope: 'system/Task.cruds' })
      .expect(400);
    assert.equal(res.body.error, 'invalid_scope');
  });

  it('gives a client pinned to a patient a token with patient context', async () => {
    const res = await request(app)
      .post('/oauth2/token')
      .type('form')
      .send({ grant_type: 'client_credentials', client_id: 'patient-a-app', client_secret: 'patient-a-secret' })
      .expect(200);
    assert.equal(res.body.patient, 'a');
    const claims = decodeJwt(res.body.access_token);
    assert.equal(claims.patient, 'a');
    assert.equal(claims.fhirUser, 'Patient/a');
    assert.equal(claims.sub, 'Patient/a');
  });
});

describe('POST /oauth2/token rate limit', () => {
  it('answers 429 in OAuth error format once the per-IP limit is reached', async () => {
    const { app } = createTestAuthApp({ tokenRateLimit: { limit: 2, windowMs: 60_000 } });
    const send = () => request(app).post('/oauth2/token').type('form').send({ grant_type: 'password' });
    await send().expect(400);
    await send().expect(400);
    const res = await send().expect(429);
    assert.equal(res.body.error, 'temporarily_unavailable');
    assert.ok(res.headers['retry-after']);
  });
});
