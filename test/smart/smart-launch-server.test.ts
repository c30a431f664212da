import assert from 'node:assert/strict';
import express from 'express';
import request from 'supertest';
import { ConfigError, loadConfig } from '../../src/config/load-config';
import { createSealedLaunchState } from '../../smart-launch/server/sealed-launch-state';
import { caseStoreAtMedplum, REVIEW_APP_SCOPE, smartAppConfig } from '../../smart-launch/server/smart-app-config';
import { startTestServer } from '../support/test-server';

const EPIC = {
  name: 'Epic (Riverside)',
  issuer: 'https://fhir.riverside.example/api/FHIR/R4',
  clientId: 'epic-client-123',
  frameAncestors: ['https://hyperdrive.riverside.example'],
};

describe('SMART EHR configuration (DERMBRIDGE_SMART_EHRS, DERMBRIDGE_DEV_EHR)', () => {
  it('reads several EHRs, each with its client id, and lets each frame the app', () => {
    const config = loadConfig({ DERMBRIDGE_SMART_EHRS: JSON.stringify([EPIC]), DERMBRIDGE_FRAME_ANCESTORS: 'https://other.example' });
    assert.equal(config.smart.ehrs[0].clientId, 'epic-client-123');
    assert.deepEqual(config.frameAncestors, ['https://other.example', 'https://hyperdrive.riverside.example']);
    assert.equal(config.smart.devEhr, false, 'the development EHR is off unless asked for or demo data is on');
    assert.equal(loadConfig({ DERMBRIDGE_DEMO_DATA: 'true' }).smart.devEhr, true);
    assert.equal(loadConfig({ DERMBRIDGE_DEMO_DATA: 'true', DERMBRIDGE_DEV_EHR: 'false' }).smart.devEhr, false);
  });

  it('refuses an EHR without an issuer URL, or a frame ancestor that is not an origin', () => {
    assert.throws(() => loadConfig({ DERMBRIDGE_SMART_EHRS: JSON.stringify([{ ...EPIC, issuer: 'riverside' }]) }), ConfigError);
    assert.throws(() => loadConfig({ DERMBRIDGE_SMART_EHRS: JSON.stringify([{ ...EPIC, frameAncestors: ['https://x.example/path'] }]) }), ConfigError);
    assert.throws(() => loadConfig({ DERMBRIDGE_SMART_EHRS: '{' }), ConfigError);
  });

  it('tells the browser each EHR\'s issuer, client id, redirect URI and scopes, and nothing secret', () => {
    const config = loadConfig({ DERMBRIDGE_SMART_EHRS: JSON.stringify([{ ...EPIC, clientSecret: 'never-to-the-browser' }]), DERMBRIDGE_DEV_EHR: 'true' }, { baseUrl: 'https://review.example/' });
    const browser = smartAppConfig(config, { fhirBaseUrl: 'https://review.example/fhir/R4', tokenEndpoint: 'https://review.example/oauth2/token' });
    assert.deepEqual(browser.ehrs.map((e) => e.iss), ['https://review.example/fhir/R4', EPIC.issuer]);
    assert.equal(browser.ehrs[1].redirectUri, 'https://review.example/smart/index.html');
    assert.equal(browser.ehrs[1].scope, REVIEW_APP_SCOPE);
    assert.doesNotMatch(JSON.stringify(browser), /never-to-the-browser|secret/i);
  });
});

describe('POST /smart/launch-state, POST /smart/launch-state/open (sealed, stored nowhere)', () => {
  let now = Date.now();
  const build = (secret: string) => {
    const app = express();
    const handlers = createSealedLaunchState(secret, () => now);
    const body = express.text({ type: ['application/json', 'text/plain'] });
    app.post('/smart/launch-state', body, handlers.seal);
    app.post('/smart/launch-state/open', body, handlers.open);
    return app;
  };
  const replicaA = build('shared-secret');
  const replicaB = build('shared-secret');
  const seal = async (json: string) => (await request(replicaA).post('/smart/launch-state').type('application/json').send(json).expect(200)).body.state as string;

  it('seals a launch state into an opaque state value that another replica with the same secret opens', async () => {
    const sealed = await seal('{"codeVerifier":"verifier-123","serverUrl":"https://ehr.example/fhir"}');
    assert.match(sealed, /^[A-Za-z0-9_-]+$/, 'base64url: travels in a URL unescaped');
    assert.doesNotMatch(Buffer.from(sealed, 'base64url').toString('latin1'), /verifier-123/, 'the verifier is not readable in the URL');
    const opened = await request(replicaB).post('/smart/launch-state/open').type('text/plain').send(sealed).expect(200);
    assert.deepEqual(opened.body, { codeVerifier: 'verifier-123', serverUrl: 'https://ehr.example/fhir' });
  });

  it('refuses an altered value, another secret\'s value, and one older than five minutes', async () => {
    const sealed = await seal('{"codeVerifier":"x"}');
    const flipped = Buffer.from(sealed, 'base64url');
    flipped[20] ^= 1;
    await request(replicaB).post('/smart/launch-state/open').type('text/plain').send(flipped.toString('base64url')).expect(404);
    await request(build('other-secret')).post('/smart/launch-state/open').type('text/plain').send(sealed).expect(404);
    now += 5 * 60_000 + 1;
    await request(replicaB).post('/smart/launch-state/open').type('text/plain').send(sealed).expect(404);
  });

  it('seals only a JSON object', async () => {
    await request(replicaA).post('/smart/launch-state').type('application/json').send('[1]').expect(400);
    await request(replicaA).post('/smart/launch-state/open').type('text/plain').send('short').expect(404);
  });
});

describe('smartAppConfig with Medplum as the case store', () => {
  it('points the app at Medplum\'s public FHIR base and token endpoint, and each EHR at its exchange client there', () => {
    const config = loadConfig(
      { DERMBRIDGE_SMART_EHRS: JSON.stringify([{ ...EPIC, tokenExchange: { clientId: 'medplum-client-for-epic' } }]), MEDPLUM_BASE_URL: 'http://medplum:8103/', MEDPLUM_ISSUER: 'https://medplum.example.org/', MEDPLUM_CLIENT_ID: 'c', MEDPLUM_CLIENT_SECRET: 's' },
      { baseUrl: 'https://review.example/' },
    );
    const browser = smartAppConfig(config, caseStoreAtMedplum('https://medplum.example.org/'));
    assert.equal(browser.caseStore, 'https://medplum.example.org/fhir/R4');
    assert.deepEqual(browser.ehrs[0].tokenExchange, {
      tokenEndpoint: 'https://medplum.example.org/oauth2/token',
      clientId: 'medplum-client-for-epic',
      scope: REVIEW_APP_SCOPE.split(' ').filter((s) => s.startsWith('user/')).join(' '),
    });
    assert.equal(browser.ehrs[0].caseStoreExchange, false);
  });

  it('refuses a token-exchange client without an id, or with a userInfoUrl but no scopes', () => {
    assert.throws(() => loadConfig({ DERMBRIDGE_SMART_EHRS: JSON.stringify([{ ...EPIC, tokenExchange: {} }]) }), ConfigError);
    assert.throws(() => loadConfig({ DERMBRIDGE_SMART_EHRS: JSON.stringify([{ ...EPIC, tokenExchange: { clientId: 'x', userInfoUrl: 'https://ehr.example/userinfo' } }]) }), ConfigError);
    assert.throws(() => loadConfig({ DERMBRIDGE_SMART_EHRS: JSON.stringify([{ ...EPIC, tokenExchange: { clientId: 'x', identitySource: 'sub' } }]) }), ConfigError);
  });
});

describe('the development EHR is off by default', () => {
  it('has no /ehr, no /oauth2/authorize and no authorization endpoint in discovery, while the app itself is served', async () => {
    const server = await startTestServer();
    try {
      const http = request(server.baseUrl.replace(/\/$/, ''));
      await http.get('/ehr').expect(404);
      await http.get('/oauth2/authorize').query({ client_id: 'dermbridge-review' }).expect(404);
      const discovery = await http.get('/fhir/R4/.well-known/smart-configuration').expect(200);
      assert.equal(discovery.body.authorization_endpoint, undefined);
      const config = await http.get('/smart/config.json').expect(200);
      assert.deepEqual(config.body.ehrs, []);
      const launchPage = await http.get('/smart/launch.html').expect(200);
      assert.match(launchPage.text, /fhir-client\.js/);
      await http.get('/smart/vendor/fhir-client.js').expect(200).expect('content-type', /javascript/);
    } finally {
      await server.close();
    }
  });
});
