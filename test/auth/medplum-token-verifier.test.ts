/**
 * Tokens shaped exactly as Medplum 5 issues them (`getAuthTokens` in packages/server/src/oauth/utils.ts,
 * `generateJwt` in keys.ts: RS256, `typ: JWT`, `kid` = the JsonWebKey id, `iss` = issuer,
 * `aud` = client id), signed with a key served from a JWKS endpoint like Medplum's.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import express from 'express';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type JWTPayload, type CryptoKey } from 'jose';
import request from 'supertest';
import { createBearerAuthWith, TokenVerifierUnavailableError } from '../../src/auth/bearer-auth';
import { createMedplumTokenVerifier } from '../../src/auth/medplum-token-verifier';

const ISSUER = 'http://medplum.test:8103/';
const KID = 'b5a1c3e0-0000-4000-8000-000000000001';

describe('createMedplumTokenVerifier (Medplum-shaped tokens)', () => {
  let privateKey: CryptoKey;
  let jwksServer: Server;
  let jwksUrl: string;

  before(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    privateKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: KID, alg: 'RS256', use: 'sig' };
    jwksServer = await new Promise((resolve) => {
      const s = createServer((_req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys: [jwk] }));
      });
      s.listen(0, '127.0.0.1', () => resolve(s));
    });
    jwksUrl = `http://127.0.0.1:${(jwksServer.address() as { port: number }).port}/.well-known/jwks.json`;
  });
  after(async () => {
    jwksServer.closeAllConnections();
    await new Promise<void>((resolve) => jwksServer.close(() => resolve()));
  });

  function medplumJwt(claims: JWTPayload, options: { issuer?: string; exp?: string | number } = {}): Promise<string> {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: KID, typ: 'JWT' })
      .setIssuedAt()
      .setIssuer(options.issuer ?? ISSUER)
      .setAudience(claims.client_id as string)
      .setExpirationTime(options.exp ?? '1h')
      .sign(privateKey);
  }

  const accessClaims = (profile: string, scope = 'openid system/*.cruds') => ({
    client_id: 'client-1',
    login_id: 'login-1',
    sub: 'user-1',
    username: 'user-1',
    scope,
    profile,
  });

  it('takes the caller from the profile claim and the scopes from the scope claim', async () => {
    const verify = createMedplumTokenVerifier({ issuer: ISSUER, jwksUrl });
    const { access, expiresAt } = await verify(await medplumJwt(accessClaims('Practitioner/123', 'openid user/*.cruds')));
    assert.deepEqual(access, { clientId: 'client-1', subject: 'Practitioner/123', scopes: ['openid', 'user/*.cruds'], patientId: undefined, tokenId: 'login-1' });
    assert.ok(expiresAt > Date.now() + 3_500_000);
  });

  it('confines a patient\'s own login to that patient', async () => {
    const verify = createMedplumTokenVerifier({ issuer: ISSUER, jwksUrl });
    const { access } = await verify(await medplumJwt(accessClaims('Patient/abc', 'openid patient/*.cruds')));
    assert.equal(access.patientId, 'abc');
    assert.equal(access.subject, 'Patient/abc');
  });

  it('accepts the issuer written with or without its trailing slash', async () => {
    const verify = createMedplumTokenVerifier({ issuer: ISSUER.replace(/\/$/, ''), jwksUrl });
    const { access } = await verify(await medplumJwt(accessClaims('ClientApplication/client-1')));
    assert.equal(access.subject, 'ClientApplication/client-1');
  });

  it('refuses Medplum\'s ID tokens and refresh tokens, which share the key but are not access tokens', async () => {
    const verify = createMedplumTokenVerifier({ issuer: ISSUER, jwksUrl });
    const idToken = await medplumJwt({ client_id: 'client-1', login_id: 'login-1', fhirUser: 'Practitioner/123', sub: 'user-1', nonce: 'n' });
    await assert.rejects(verify(idToken), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'scope' });
    const refresh = await medplumJwt({ client_id: 'client-1', login_id: 'login-1', refresh_secret: 'x' }, { exp: '2w' });
    await assert.rejects(verify(refresh), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' });
  });

  it('refuses another issuer, an expired token and an unsigned one', async () => {
    const verify = createMedplumTokenVerifier({ issuer: ISSUER, jwksUrl });
    await assert.rejects(verify(await medplumJwt(accessClaims('Practitioner/1'), { issuer: 'http://other.test/' })), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'iss' });
    await assert.rejects(verify(await medplumJwt(accessClaims('Practitioner/1'), { exp: Math.floor(Date.now() / 1000) - 10 })), { code: 'ERR_JWT_EXPIRED' });
    const unsigned = new UnsecuredJWT(accessClaims('Practitioner/1')).setIssuer(ISSUER).setExpirationTime('1h').encode();
    await assert.rejects(verify(unsigned), { code: 'ERR_JOSE_ALG_NOT_ALLOWED' });
  });

  it('answers 503, not 401, through the bearer middleware when Medplum\'s keys cannot be fetched', async () => {
    const verify = createMedplumTokenVerifier({ issuer: ISSUER, jwksUrl: 'http://127.0.0.1:9/.well-known/jwks.json' });
    const token = await medplumJwt(accessClaims('Practitioner/1'));
    await assert.rejects(verify(token), TokenVerifierUnavailableError);
    const app = express();
    app.get('/x', createBearerAuthWith(verify, { signer: 'Medplum' }), (_req, res) => res.json({ ok: true }));
    const res = await request(app).get('/x').set('Authorization', `Bearer ${token}`);
    assert.equal(res.status, 503);
    assert.equal(res.body.issue[0].code, 'transient');
  });
});
