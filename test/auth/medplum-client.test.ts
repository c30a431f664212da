/**
 * Proves Medplum compatibility: the real MedplumClient logs in against the auth routes over HTTP
 * and then calls a bearer-protected route with the token it got.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MedplumClient } from '@medplum/core';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createTestAuthApp, DEMO, testConfig, type TestAuthApp } from './auth-test-app';

describe('MedplumClient against the auth routes', () => {
  let server: Server;
  let baseUrl: string;
  let testApp: TestAuthApp;

  before(async () => {
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    testApp = createTestAuthApp({ config: testConfig({ baseUrl }) });
    server.on('request', testApp.app);
  });

  after(() => {
    server.close();
  });

  const newClient = (options: { authCredentialsMethod?: 'body' | 'header' } = {}) => new MedplumClient({ baseUrl, fetch: globalThis.fetch, ...options });

  it('logs in with startClientLogin, loads its profile from /auth/me and uses the token', async () => {
    const medplum = newClient();
    // Typed as ProfileResource (Patient | Practitioner | RelatedPerson), but Medplum answers a
    // client-credentials login with the ClientApplication, and so do we.
    const profile: { resourceType: string; id?: string } = await medplum.startClientLogin(DEMO.clientId, DEMO.clientSecret);
    assert.equal(profile.resourceType, 'ClientApplication');
    assert.equal(profile.id, DEMO.clientId);
    assert.equal(medplum.getActiveLogin()?.project.reference, 'Project/dermbridge');
    assert.ok(medplum.isAuthenticated(0));
    const token = medplum.getAccessToken();
    assert.ok(token);
    const access = await medplum.get(medplum.fhirUrl('whoami'));
    assert.equal(access.clientId, DEMO.clientId);
  });

  it('logs in with the secret in a Basic header', async () => {
    const medplum = newClient({ authCredentialsMethod: 'header' });
    await medplum.startClientLogin(DEMO.clientId, DEMO.clientSecret);
    assert.ok(medplum.getAccessToken());
  });

  it('reports a wrong secret as a failed login', async () => {
    await assert.rejects(newClient().startClientLogin(DEMO.clientId, 'wrong-secret'), /Unknown client or wrong client secret/);
  });

  it('logs in with a private_key_jwt assertion (startJwtAssertionLogin)', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES384');
    const kid = randomUUID();
    testApp.auth.clients.registerClient({ clientId: 'medplum-backend', scopes: ['system/*.rs'], jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES384' }] } });
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES384', kid })
      .setIssuer('medplum-backend')
      .setSubject('medplum-backend')
      .setAudience(new URL('oauth2/token', baseUrl).href)
      .setJti(randomUUID())
      .setExpirationTime('4m')
      .sign(privateKey);
    const medplum = newClient();
    const profile = await medplum.startJwtAssertionLogin(assertion);
    assert.equal(profile.id, 'medplum-backend');
  });
});
