import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import express from 'express';
import request from 'supertest';
import { ConfigError, loadConfig } from '../../src/config/load-config';
import { createLaunchStateHandlers } from '../../smart-launch/server/launch-state';
import { REVIEW_APP_SCOPE, smartAppConfig } from '../../smart-launch/server/smart-app-config';
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
    const browser = smartAppConfig(config, 'https://review.example/fhir/R4');
    assert.deepEqual(browser.ehrs.map((e) => e.iss), ['https://review.example/fhir/R4', EPIC.issuer]);
    assert.equal(browser.ehrs[1].redirectUri, 'https://review.example/smart/index.html');
    assert.equal(browser.ehrs[1].scope, REVIEW_APP_SCOPE);
    assert.doesNotMatch(JSON.stringify(browser), /never-to-the-browser|secret/i);
  });
});

describe('PUT|DELETE /smart/launch-state/:state', () => {
  let now = Date.now();
  const app = express();
  const handlers = createLaunchStateHandlers(new DatabaseSync(':memory:'), () => now);
  app.put('/smart/launch-state/:state', express.text({ type: 'application/json' }), handlers.park);
  app.delete('/smart/launch-state/:state', handlers.take);
  const state = 'a'.repeat(32);

  it('parks a launch state once and gives it back once', async () => {
    await request(app).put(`/smart/launch-state/${state}`).type('application/json').send('{"codeVerifier":"x"}').expect(204);
    await request(app).put(`/smart/launch-state/${state}`).type('application/json').send('{"codeVerifier":"evil"}').expect(409);
    const taken = await request(app).delete(`/smart/launch-state/${state}`).expect(200);
    assert.deepEqual(taken.body, { codeVerifier: 'x' });
    await request(app).delete(`/smart/launch-state/${state}`).expect(404);
  });

  it('forgets a launch state after five minutes', async () => {
    const other = 'b'.repeat(40);
    await request(app).put(`/smart/launch-state/${other}`).type('application/json').send('{}').expect(204);
    now += 5 * 60_000 + 1;
    await request(app).delete(`/smart/launch-state/${other}`).expect(404);
  });

  it('refuses a short state or a body that is not a JSON object', async () => {
    await request(app).put('/smart/launch-state/short').type('application/json').send('{}').expect(400);
    await request(app).put(`/smart/launch-state/${'c'.repeat(32)}`).type('application/json').send('[1]').expect(400);
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
