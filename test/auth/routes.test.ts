import assert from 'node:assert/strict';
import request from 'supertest';
import { createTestAuthApp, DEMO, TOKEN_URL } from './auth-test-app';

describe('GET /.well-known/jwks.json', () => {
  const { app, auth } = createTestAuthApp();

  it('serves the public signing key only, with its kid', async () => {
    const res = await request(app).get('/.well-known/jwks.json').expect(200);
    assert.equal(res.body.keys.length, 1);
    const [key] = res.body.keys;
    assert.deepEqual(Object.keys(key).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    assert.equal(key.kid, auth.keys.kid);
    assert.equal(key.alg, 'ES256');
    assert.equal('d' in key, false);
  });
});

describe('GET /.well-known/smart-configuration', () => {
  const { app } = createTestAuthApp();

  it('states the token endpoint, grant, client authentication methods and capabilities', async () => {
    const res = await request(app).get('/.well-known/smart-configuration').expect(200);
    assert.equal(res.headers['access-control-allow-origin'], '*');
    assert.equal(res.body.token_endpoint, TOKEN_URL);
    assert.equal(res.body.jwks_uri, 'http://dermbridge.test/.well-known/jwks.json');
    assert.deepEqual(res.body.grant_types_supported, ['client_credentials']);
    assert.deepEqual(res.body.token_endpoint_auth_methods_supported, ['client_secret_basic', 'client_secret_post', 'private_key_jwt']);
    assert.deepEqual(res.body.token_endpoint_auth_signing_alg_values_supported, ['RS384', 'ES384']);
    assert.ok(res.body.scopes_supported.includes('system/*.cruds'));
    assert.deepEqual(res.body.capabilities, ['client-confidential-asymmetric', 'client-confidential-symmetric', 'permission-v2', 'permission-v1']);
    assert.equal(res.body.authorization_endpoint, undefined);
  });
});

describe('GET /.well-known/openid-configuration', () => {
  const { app } = createTestAuthApp();

  it('states the issuer, jwks_uri and token endpoint', async () => {
    const res = await request(app).get('/.well-known/openid-configuration').expect(200);
    assert.equal(res.body.issuer, 'http://dermbridge.test/');
    assert.equal(res.body.jwks_uri, 'http://dermbridge.test/.well-known/jwks.json');
    assert.equal(res.body.token_endpoint, TOKEN_URL);
  });
});

describe('GET /auth/me', () => {
  const { app, auth } = createTestAuthApp();

  it('describes a client-credentials session as its ClientApplication, Project and ProjectMembership', async () => {
    const { accessToken } = await auth.issueAccessToken({ clientId: DEMO.clientId, scopes: ['system/*.cruds'] });
    const res = await request(app).get('/auth/me').set('Authorization', `Bearer ${accessToken}`).expect(200);
    assert.deepEqual(res.body.profile, { resourceType: 'ClientApplication', id: DEMO.clientId, name: 'Demo client' });
    assert.deepEqual(res.body.project, { resourceType: 'Project', id: 'dermbridge', name: 'dermbridge' });
    assert.equal(res.body.membership.resourceType, 'ProjectMembership');
    assert.match(res.body.membership.id, /^[0-9a-f]{32}$/);
    assert.deepEqual(res.body.membership.profile, { reference: `ClientApplication/${DEMO.clientId}` });
    assert.deepEqual(res.body.membership.project, { reference: 'Project/dermbridge', display: 'dermbridge' });
  });

  it("uses the token's user as the profile of a user session", async () => {
    const { accessToken } = await auth.issueAccessToken({ clientId: 'clinic', scopes: ['user/*.rs'], fhirUser: 'Practitioner/doc' });
    const res = await request(app).get('/auth/me').set('Authorization', `Bearer ${accessToken}`).expect(200);
    assert.deepEqual(res.body.profile, { resourceType: 'Practitioner', id: 'doc' });
    assert.deepEqual(res.body.membership.user, { reference: 'ClientApplication/clinic' });
  });

  it('requires a bearer token', async () => {
    const res = await request(app).get('/auth/me').expect(401);
    assert.equal(res.body.resourceType, 'OperationOutcome');
  });
});
