import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import request from 'supertest';
import { CLIENT_ASSERTION_TYPE } from '../../src/auth/client-assertion';
import { createTestAuthApp, TOKEN_URL } from './auth-test-app';

interface ClientKey {
  readonly alg: 'RS384' | 'ES384' | 'RS256';
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

async function clientKey(alg: ClientKey['alg']): Promise<ClientKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  const kid = randomUUID();
  return { alg, kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg } };
}

interface AssertionOptions {
  readonly clientId: string;
  readonly key: ClientKey;
  readonly aud?: string;
  readonly expiresIn?: number;
  readonly jti?: string;
  readonly kid?: string;
}

function assertion(o: AssertionOptions): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: o.key.alg, kid: o.kid ?? o.key.kid, typ: 'JWT' })
    .setIssuer(o.clientId)
    .setSubject(o.clientId)
    .setAudience(o.aud ?? TOKEN_URL)
    .setJti(o.jti ?? randomUUID())
    .setExpirationTime(now + (o.expiresIn ?? 240))
    .sign(o.key.privateKey);
}

describe('POST /oauth2/token with private_key_jwt', () => {
  const { app, auth } = createTestAuthApp();
  let rsKey: ClientKey;
  let ecKey: ClientKey;

  before(async () => {
    rsKey = await clientKey('RS384');
    ecKey = await clientKey('ES384');
    auth.clients.registerClient({ clientId: 'backend', scopes: ['system/*.rs'], jwks: { keys: [rsKey.publicJwk, ecKey.publicJwk] } });
  });

  const tokenRequest = (clientAssertion: string, extra: Record<string, string> = {}) =>
    request(app)
      .post('/oauth2/token')
      .type('form')
      .send({ grant_type: 'client_credentials', client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: clientAssertion, scope: 'system/Patient.rs', ...extra });

  it('issues a token for an RS384-signed assertion', async () => {
    const res = await tokenRequest(await assertion({ clientId: 'backend', key: rsKey })).expect(200);
    assert.equal(res.body.scope, 'system/Patient.rs');
    assert.equal(decodeJwt(res.body.access_token).client_id, 'backend');
  });

  it('issues a token for an ES384-signed assertion', async () => {
    await tokenRequest(await assertion({ clientId: 'backend', key: ecKey }), { client_id: 'backend' }).expect(200);
  });

  it('refuses a replayed assertion (same jti)', async () => {
    const jwt = await assertion({ clientId: 'backend', key: ecKey });
    await tokenRequest(jwt).expect(200);
    const res = await tokenRequest(jwt).expect(401);
    assert.equal(res.body.error, 'invalid_client');
    assert.match(res.body.error_description, /jti/);
  });

  it('refuses an assertion that expires more than five minutes ahead', async () => {
    const res = await tokenRequest(await assertion({ clientId: 'backend', key: rsKey, expiresIn: 600 })).expect(401);
    assert.equal(res.body.error, 'invalid_client');
    assert.match(res.body.error_description, /5 minutes/);
  });

  it('refuses an expired assertion', async () => {
    const res = await tokenRequest(await assertion({ clientId: 'backend', key: rsKey, expiresIn: -120 })).expect(401);
    assert.match(res.body.error_description, /expired/);
  });

  it('refuses an assertion whose aud is not the token endpoint', async () => {
    const res = await tokenRequest(await assertion({ clientId: 'backend', key: rsKey, aud: 'http://dermbridge.test/fhir/R4' })).expect(401);
    assert.equal(res.body.error, 'invalid_client');
    assert.match(res.body.error_description, /aud/);
  });

  it('refuses an assertion signed with a key the client did not register', async () => {
    const stranger = await clientKey('ES384');
    const res = await tokenRequest(await assertion({ clientId: 'backend', key: stranger, kid: ecKey.kid })).expect(401);
    assert.equal(res.body.error, 'invalid_client');
  });

  it('refuses an assertion whose kid matches no registered key', async () => {
    await tokenRequest(await assertion({ clientId: 'backend', key: rsKey, kid: 'unknown-kid' })).expect(401);
  });

  it('refuses an assertion signed with RS256', async () => {
    const rs256 = await clientKey('RS256');
    const res = await tokenRequest(await assertion({ clientId: 'backend', key: rs256 })).expect(401);
    assert.match(res.body.error_description, /RS384 or ES384/);
  });

  it('refuses an assertion whose client_id parameter names another client', async () => {
    await tokenRequest(await assertion({ clientId: 'backend', key: rsKey }), { client_id: 'someone-else' }).expect(401);
  });

  it('refuses an assertion for an unknown client', async () => {
    await tokenRequest(await assertion({ clientId: 'nobody', key: rsKey })).expect(401);
  });

  it('refuses a wrong client_assertion_type with invalid_request', async () => {
    const res = await tokenRequest(await assertion({ clientId: 'backend', key: rsKey }), { client_assertion_type: 'urn:x' }).expect(400);
    assert.equal(res.body.error, 'invalid_request');
  });

  it('refuses a client_assertion that is not a JWT', async () => {
    await tokenRequest('not-a-jwt').expect(401);
  });
});

describe('POST /oauth2/token with private_key_jwt and a jwks_uri', () => {
  let jwksServer: Server;
  let key: ClientKey;

  before(async () => {
    key = await clientKey('ES384');
    jwksServer = createServer((_req, res) => {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ keys: [key.publicJwk] }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  });

  after(() => {
    jwksServer.close();
  });

  it("verifies the assertion with keys fetched from the client's jwks_uri", async () => {
    const { app, auth } = createTestAuthApp();
    const { port } = jwksServer.address() as AddressInfo;
    auth.clients.registerClient({ clientId: 'hosted', scopes: ['system/*.rs'], jwksUri: `http://127.0.0.1:${port}/jwks.json` });
    const res = await request(app)
      .post('/oauth2/token')
      .type('form')
      .send({ grant_type: 'client_credentials', client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: await assertion({ clientId: 'hosted', key }) })
      .expect(200);
    assert.equal(res.body.scope, 'system/*.rs');
  });
});
