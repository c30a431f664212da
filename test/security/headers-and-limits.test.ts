/**
 * HTTP hardening of the whole app: helmet-style headers and a CSP that lets only configured EHRs
 * frame the app, no caching of PHI, CORS for configured origins only, rate limits on the token and
 * write endpoints, and body size limits.
 */
import assert from 'node:assert/strict';
import type { Patient } from '@medplum/fhirtypes';
import request from 'supertest';
import { ConfigError, loadConfig } from '../../src/config/load-config';
import { assertOutcome, fhirHttp, MRN, unique } from '../support/fhir-http';
import { startTestServer, type TestServer } from '../support/test-server';

const REVIEW_APP = 'https://review.dermbridge.example';
const EHR = 'https://ehr.hospital.example';
const ELSEWHERE = 'https://evil.example';

describe('security headers, CORS and limits', () => {
  let server: TestServer;
  let token: string;
  let patientId: string;
  const root = (): string => server.baseUrl.replace(/\/$/, '');

  before(async () => {
    server = await startTestServer({ corsOrigins: [REVIEW_APP], maxBodyBytes: 64 * 1024 }, { writeRateLimit: { limit: 3, windowMs: 60_000 } });
    token = await server.adminToken();
    const patient = await fhirHttp(server.baseUrl, token).create<Patient>({ resourceType: 'Patient', identifier: [{ system: MRN, value: unique() }] });
    patientId = patient.id;
  });

  after(async () => {
    await server.close();
  });

  /** One request per kind of route: public, OAuth, FHIR success and errors, raw Binary, unknown. */
  const everyRoute = (): { name: string; send: () => request.Test }[] => [
    { name: 'GET /healthcheck', send: () => request(root()).get('/healthcheck') },
    { name: 'GET /fhir/R4/metadata', send: () => request(root()).get('/fhir/R4/metadata') },
    { name: 'GET /.well-known/smart-configuration', send: () => request(root()).get('/.well-known/smart-configuration') },
    { name: 'GET /.well-known/jwks.json', send: () => request(root()).get('/.well-known/jwks.json') },
    { name: 'POST /oauth2/token (refused)', send: () => request(root()).post('/oauth2/token').type('form').send({ grant_type: 'client_credentials', client_id: 'x', client_secret: 'y' }) },
    { name: 'GET /fhir/R4/Patient/<id>', send: () => request(root()).get(`/fhir/R4/Patient/${patientId}`).set('Authorization', `Bearer ${token}`) },
    { name: 'GET /fhir/R4/Patient without a token', send: () => request(root()).get('/fhir/R4/Patient') },
    { name: 'GET /fhir/R4/Foo (404)', send: () => request(root()).get('/fhir/R4/Foo').set('Authorization', `Bearer ${token}`) },
    { name: 'GET /auth/me', send: () => request(root()).get('/auth/me').set('Authorization', `Bearer ${token}`) },
    { name: 'GET /nowhere (404)', send: () => request(root()).get('/nowhere') },
  ];

  describe('helmet headers', () => {
    for (const route of everyRoute()) {
      it(`${route.name} carries the security headers`, async () => {
        const res = await route.send();
        const csp = res.headers['content-security-policy'] ?? '';
        assert.match(csp, /default-src 'self'/);
        assert.match(csp, /frame-ancestors 'self'(;|$)/, csp);
        assert.match(csp, /object-src 'none'/);
        assert.match(csp, /script-src 'self'(;|$)/);
        assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
        assert.equal(res.headers['x-content-type-options'], 'nosniff');
        assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN');
        assert.equal(res.headers['referrer-policy'], 'no-referrer');
        assert.match(res.headers['strict-transport-security'] ?? '', /max-age=31536000/);
        assert.equal(res.headers['x-powered-by'], undefined);
        assert.equal(res.headers['cross-origin-opener-policy'], 'same-origin');
      });
    }

    it('FHIR and token responses are never cached; public metadata may be', async () => {
      const fhir = await request(root()).get(`/fhir/R4/Patient/${patientId}`).set('Authorization', `Bearer ${token}`);
      assert.equal(fhir.headers['cache-control'], 'no-store');
      const denied = await request(root()).get(`/fhir/R4/Patient/${patientId}`);
      assert.equal(denied.headers['cache-control'], 'no-store');
      const tokenRes = await request(root()).post('/oauth2/token').type('form').send({ grant_type: 'client_credentials', client_id: 'x', client_secret: 'y' });
      assert.equal(tokenRes.headers['cache-control'], 'no-store');
      const metadata = await request(root()).get('/fhir/R4/metadata');
      assert.notEqual(metadata.headers['cache-control'], 'no-store');
    });

    it('lets the configured EHR origins frame the app and then drops X-Frame-Options', async () => {
      const framed = await startTestServer({ frameAncestors: [EHR] });
      try {
        const res = await request(framed.baseUrl.replace(/\/$/, '')).get('/healthcheck');
        assert.match(res.headers['content-security-policy'], new RegExp(`frame-ancestors 'self' ${EHR}(;|$)`));
        assert.equal(res.headers['x-frame-options'], undefined);
      } finally {
        await framed.close();
      }
    });
  });

  it('lets a configured SMART EHR frame the review app and be called from it (CSP)', async () => {
    const ehr = { name: 'Epic (test)', issuer: 'https://fhir.epic.example/api/FHIR/R4', clientId: 'x', frameAncestors: ['https://hyperspace.epic.example'] };
    const withEhr = await startTestServer({ smart: { clientId: 'dermbridge-review', ehrs: [ehr], devEhr: false } });
    try {
      const csp = (await request(withEhr.baseUrl.replace(/\/$/, '')).get('/healthcheck')).headers['content-security-policy'];
      assert.match(csp, /frame-ancestors 'self' https:\/\/hyperspace\.epic\.example(;|$)/);
      assert.match(csp, /connect-src 'self' https:\/\/fhir\.epic\.example(;|$)/);
    } finally {
      await withEhr.close();
    }
  });

  describe('CORS', () => {
    const preflight = (origin: string): request.Test =>
      request(root())
        .options('/fhir/R4/Patient')
        .set('Origin', origin)
        .set('Access-Control-Request-Method', 'POST')
        .set('Access-Control-Request-Headers', 'authorization, content-type');

    it('answers a preflight from a configured origin with that origin and the FHIR headers', async () => {
      const res = await preflight(REVIEW_APP);
      assert.equal(res.status, 204);
      assert.equal(res.headers['access-control-allow-origin'], REVIEW_APP);
      assert.match(res.headers['access-control-allow-headers'], /Authorization/);
      assert.match(res.headers['access-control-allow-methods'], /POST/);
      assert.match(res.headers.vary ?? '', /Origin/);
    });

    it('refuses a preflight from any other origin, without CORS headers', async () => {
      const res = await preflight(ELSEWHERE);
      assert.equal(res.status, 403);
      assert.equal(res.headers['access-control-allow-origin'], undefined);
      assert.equal(res.headers['access-control-allow-methods'], undefined);
    });

    it('echoes a configured origin on a FHIR response and exposes ETag and Location', async () => {
      const res = await request(root()).get(`/fhir/R4/Patient/${patientId}`).set('Authorization', `Bearer ${token}`).set('Origin', REVIEW_APP);
      assert.equal(res.status, 200);
      assert.equal(res.headers['access-control-allow-origin'], REVIEW_APP);
      assert.match(res.headers['access-control-expose-headers'], /ETag/);
      assert.match(res.headers['access-control-expose-headers'], /Location/);
    });

    it('gives another origin no CORS headers, so a browser withholds the PHI', async () => {
      const res = await request(root()).get(`/fhir/R4/Patient/${patientId}`).set('Authorization', `Bearer ${token}`).set('Origin', ELSEWHERE);
      assert.equal(res.headers['access-control-allow-origin'], undefined);
      assert.equal(res.headers['access-control-allow-credentials'], undefined);
    });

    it('gives no origin CORS access when none is configured', async () => {
      const closed = await startTestServer();
      try {
        const res = await request(closed.baseUrl.replace(/\/$/, ''))
          .options('/fhir/R4/Patient')
          .set('Origin', REVIEW_APP)
          .set('Access-Control-Request-Method', 'GET');
        assert.equal(res.status, 403);
        assert.equal(res.headers['access-control-allow-origin'], undefined);
      } finally {
        await closed.close();
      }
    });

    it('reads DERMBRIDGE_CORS_ORIGINS and DERMBRIDGE_FRAME_ANCESTORS as comma-separated origins and rejects anything else', () => {
      const config = loadConfig({ DERMBRIDGE_CORS_ORIGINS: `${REVIEW_APP}, ${EHR}`, DERMBRIDGE_FRAME_ANCESTORS: EHR });
      assert.deepEqual(config.corsOrigins, [REVIEW_APP, EHR]);
      assert.deepEqual(config.frameAncestors, [EHR]);
      assert.deepEqual(loadConfig({}).corsOrigins, []);
      for (const bad of ['*', `${REVIEW_APP}/`, `${REVIEW_APP}/app`, 'review.example', 'ftp://x.example']) {
        assert.throws(() => loadConfig({ DERMBRIDGE_CORS_ORIGINS: bad }), ConfigError, bad);
      }
    });
  });

  describe('rate limits', () => {
    it('limits the token endpoint of the full app (RateLimit headers present)', async () => {
      const res = await request(root()).post('/oauth2/token').type('form').send({ grant_type: 'client_credentials', client_id: 'x', client_secret: 'y' });
      assert.ok(res.headers['ratelimit-policy'], JSON.stringify(res.headers));
    });

    it('answers 429 with an OperationOutcome once a patient exceeds the write limit, and stores nothing more', async () => {
      const patient = fhirHttp(server.baseUrl, await server.token({ scopes: ['patient/*.cruds'], patientId, fhirUser: `Patient/${patientId}` }));
      const body = (value: string) => ({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: `Patient/${patientId}` }, identifier: [{ system: MRN, value }] });
      for (let i = 0; i < 3; i++) {
        assert.equal((await patient.post('Observation', body(unique()))).status, 201);
      }
      const marker = unique('throttled');
      const res = await patient.post('Observation', body(marker));
      assertOutcome(res, 429);
      assert.ok(res.headers['retry-after'] || res.headers.ratelimit);
      const admin = fhirHttp(server.baseUrl, token);
      assert.equal((await admin.search(`Observation?identifier=${MRN}|${marker}`)).entry?.length ?? 0, 0);
      // Reads stay available, and the limit is per person, not global.
      assert.equal((await patient.get(`Patient/${patientId}`)).status, 200);
      const clinician = fhirHttp(server.baseUrl, await server.token({ scopes: ['user/*.cruds'], fhirUser: 'Practitioner/derm-1' }));
      assert.equal((await clinician.post('Observation', body(unique()))).status, 201);
    });

    it('limits intake submissions per person, answering 429 as problem details', async () => {
      const patientToken = await server.token({ scopes: ['patient/*.cruds'], patientId, fhirUser: `Patient/${patientId}` });
      const submit = () => request(root()).post('/intake/cases').set('Authorization', `Bearer ${patientToken}`).set('Content-Type', 'application/fhir+json').send('{}');
      for (let i = 0; i < 3; i++) {
        assert.notEqual((await submit()).status, 429);
      }
      const res = await submit();
      assert.equal(res.status, 429);
      assert.match(res.headers['content-type'], /application\/problem\+json/);
      assert.equal(JSON.parse(res.text).code, 'rate-limited');
    });

    it('does not limit registered system clients (interface engines, bulk loads)', async () => {
      const admin = fhirHttp(server.baseUrl, token);
      for (let i = 0; i < 5; i++) {
        assert.equal((await admin.post('Patient', { resourceType: 'Patient' })).status, 201);
      }
    });
  });

  describe('body size limits', () => {
    it('answers 413 to a FHIR body over the configured limit, storing nothing', async () => {
      const marker = unique('big');
      const big = { resourceType: 'Patient', identifier: [{ system: MRN, value: marker }], name: [{ text: 'x'.repeat(70 * 1024) }] };
      assertOutcome(await fhirHttp(server.baseUrl, token).post('Patient', big), 413);
      assert.equal((await fhirHttp(server.baseUrl, token).search(`Patient?identifier=${MRN}|${marker}`)).entry?.length ?? 0, 0);
    });

    it('answers 413 to a photo over the limit', async () => {
      const res = await request(root())
        .post('/fhir/R4/Binary')
        .set('Authorization', `Bearer ${token}`)
        .set('Content-Type', 'image/jpeg')
        .send(Buffer.alloc(65 * 1024, 1));
      assertOutcome(res, 413);
    });

    it('answers a token request over 16 kB with an OAuth error, not a crash', async () => {
      const res = await request(root()).post('/oauth2/token').type('form').send({ grant_type: 'client_credentials', client_id: 'x'.repeat(20_000) });
      assert.ok(res.status === 400 || res.status === 413, String(res.status));
      assert.ok(res.body.error, res.text);
    });

    it('refuses an over-long query string without a 5xx', async () => {
      const res = await request(root()).get(`/fhir/R4/Patient?name=${'a'.repeat(80_000)}`).set('Authorization', `Bearer ${token}`);
      assert.ok(res.status >= 400 && res.status < 500, String(res.status));
    });
  });
});
