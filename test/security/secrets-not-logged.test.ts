/**
 * What operators see: a full flow (token request with a client secret, a refused secret, FHIR
 * writes and reads, a photo upload and raw download, searches by name, refused tokens) with the
 * app's own logger at `debug`, captured in a buffer. No bearer token, client secret, photo byte
 * or searched-for name may appear in the log.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Patient } from '@medplum/fhirtypes';
import request from 'supertest';
import { fhirHttp, MRN, unique } from '../support/fhir-http';
import { startTestServer, type TestServer } from '../support/test-server';

describe('logs', () => {
  let server: TestServer;
  const lines: string[] = [];
  const clientSecret = `s3cret-${randomBytes(16).toString('hex')}`;
  const clientId = 'log-test-client';

  before(async () => {
    server = await startTestServer(
      { logLevel: 'debug', demoClient: { clientId, clientSecret } },
      { logger: undefined, logDestination: { write: (line: string) => void lines.push(line) } }
    );
  });

  after(async () => {
    await server.close();
  });

  it('never contain the bearer token, the client secret, photo bytes or searched names, at debug level', async () => {
    const root = server.baseUrl.replace(/\/$/, '');
    const refused = await request(root).post('/oauth2/token').type('form').send({ grant_type: 'client_credentials', client_id: clientId, client_secret: `${clientSecret}x` });
    assert.equal(refused.status, 401);
    const tokenRes = await request(root).post('/oauth2/token').type('form').send({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret });
    assert.equal(tokenRes.status, 200, tokenRes.text);
    const accessToken = tokenRes.body.access_token as string;
    const fhir = fhirHttp(server.baseUrl, accessToken);

    const family = `Zyx${randomBytes(6).toString('hex')}`;
    const patient = await fhir.create<Patient>({ resourceType: 'Patient', identifier: [{ system: MRN, value: unique() }], name: [{ family }] });
    await fhir.search(`Patient?name=${family}`);
    const photo = randomBytes(4096);
    const upload = await request(root)
      .post('/fhir/R4/Binary')
      .set('Authorization', `Bearer ${accessToken}`)
      .set('Content-Type', 'image/jpeg')
      .set('X-Security-Context', `Patient/${patient.id}`)
      .send(photo);
    assert.equal(upload.status, 201, upload.text);
    const download = await request(root).get(`/fhir/R4/Binary/${upload.body.id}`).set('Authorization', `Bearer ${accessToken}`).set('Accept', 'image/jpeg');
    assert.equal(download.status, 200);
    await fhir.post('Binary', { resourceType: 'Binary', contentType: 'image/png', data: photo.toString('base64') });
    // Refusals and errors are where secrets usually leak: a bad token, a token in a bad place, bad JSON.
    await fhirHttp(server.baseUrl, `${accessToken}x`).get(`Patient/${patient.id}`);
    await request(root).get(`/fhir/R4/Patient?access_token=${accessToken}`);
    await fhir.post('Patient', `{"resourceType":"Patient","name":[{"family":"${family}"`);
    await fhir.post('Patient', { resourceType: 'Patient', name: [{ family }], bogus: clientSecret });
    await request(root).get('/auth/me').set('Authorization', `Bearer ${accessToken}`);

    const log = lines.join('');
    assert.ok(lines.length > 5, `expected debug request lines, got ${lines.length}`);
    const signature = accessToken.split('.')[2];
    const photoBase64 = photo.toString('base64');
    const forbidden: [string, string][] = [
      ['the bearer token', accessToken],
      ['the token signature', signature],
      ['the client secret', clientSecret],
      ['the photo (base64)', photoBase64.slice(0, 64)],
      ['the photo (base64, later part)', photoBase64.slice(2048, 2112)],
      ['the photo (hex)', photo.subarray(0, 32).toString('hex')],
      ['the searched name', family],
    ];
    for (const [what, secret] of forbidden) {
      assert.ok(!log.includes(secret), `the log contains ${what}`);
    }
  });
});
