/**
 * Production mode (`MEDPLUM_BASE_URL`), proven against a stand-in: an embedded dermbridge server
 * plays Medplum (it serves the same HTTP surfaces dermbridge uses: `/fhir/R4`, `/oauth2/token`,
 * `/.well-known/jwks.json`, `/healthcheck`), and a second dermbridge is configured to use it as
 * its store. What a real Medplum does differently (RS256 keys, the `profile` claim, access
 * policies) is covered by test/auth/medplum-token-verifier.test.ts and docs/deployment.md.
 */
import type { Bot, Bundle, ServiceRequest, Subscription, Task } from '@medplum/fhirtypes';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import request from 'supertest';
import { createApp, createMedplumFrontedApp, type MedplumFrontedApp } from '../../src/app';
import { issueAccessToken } from '../../src/auth/access-token';
import { deployBotsToStore } from '../../src/bots/deploy-to-store';
import { loadConfig } from '../../src/config/load-config';
import { BOT_IDENTIFIER_SYSTEM } from '../../bots/deploy';
import { intakeResponse, threePhotos } from '../intake/intake-fixtures';
import { adminGet, adminWrite } from '../intake/intake-http';
import { startTestServer, type TestServer } from '../support/test-server';

interface Front {
  readonly dermbridge: MedplumFrontedApp;
  readonly baseUrl: string;
  readonly dataDir: string;
  close(): Promise<void>;
}

/** A second dermbridge whose store is `medplumUrl`, on an ephemeral loopback port. */
async function startInFrontOf(medplumUrl: string): Promise<Front> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dermbridge-front-'));
  const server: Server = await new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
  const port = (server.address() as { port: number }).port;
  const env = { MEDPLUM_BASE_URL: medplumUrl, MEDPLUM_CLIENT_ID: 'dermbridge-demo', MEDPLUM_CLIENT_SECRET: 'dermbridge-demo-secret' };
  const config = loadConfig(env, { dataDir, port, baseUrl: `http://127.0.0.1:${port}/`, logLevel: 'silent' });
  const dermbridge = createMedplumFrontedApp(config, { logger: pino({ level: 'silent' }) });
  server.on('request', dermbridge.app);
  return {
    dermbridge,
    baseUrl: config.baseUrl,
    dataDir,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await dermbridge.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function submitCase(front: Front, token: string, photos: Record<string, Buffer>) {
  const req = request(front.baseUrl).post('intake/cases').set('Authorization', `Bearer ${token}`);
  req.field('questionnaireResponse', JSON.stringify(intakeResponse()));
  for (const [name, bytes] of Object.entries(photos)) req.attach(name, bytes, `${name}.jpg`);
  return req;
}

describe('dermbridge with MEDPLUM_BASE_URL (a stand-in Medplum)', function () {
  this.timeout(60_000);
  let medplum: TestServer;
  let front: Front;
  let photos: Record<string, Buffer>;

  before(async () => {
    medplum = await startTestServer();
    front = await startInFrontOf(medplum.baseUrl);
    const [a, b, c] = await threePhotos();
    photos = { overview: a, close1: b, close2: c };
  });
  after(async () => {
    await front?.close();
    await medplum?.close();
  });

  describe('what it does not serve', () => {
    it('serves no FHIR API, token endpoint, JWKS or SMART discovery, and says they are Medplum\'s', async () => {
      for (const path of ['fhir/R4/metadata', 'fhir/R4/Patient', '.well-known/jwks.json', '.well-known/smart-configuration', 'auth/me']) {
        const res = await request(front.baseUrl).get(path);
        assert.equal(res.status, 404, path);
        assert.equal(res.body.code, 'served-by-medplum', path);
        assert.ok(res.body.detail.includes(medplum.baseUrl), path);
      }
      const token = await request(front.baseUrl).post('oauth2/token').type('form').send({ grant_type: 'client_credentials', client_id: 'dermbridge-demo', client_secret: 'dermbridge-demo-secret' });
      assert.equal(token.status, 404);
      assert.equal((await request(front.baseUrl).get('ehr')).status, 404, 'no development EHR');
    });

    it('opens no SQLite database of its own', () => {
      assert.deepEqual(existsSync(front.dataDir) ? readdirSync(front.dataDir).filter((f) => f.includes('sqlite')) : [], []);
    });

    it('refuses to build the embedded server from a Medplum configuration, and the reverse', () => {
      assert.throws(() => createApp(front.dermbridge.config), TypeError);
      assert.throws(() => createMedplumFrontedApp(medplum.dermbridge.config), TypeError);
    });
  });

  describe('GET /healthcheck', () => {
    it('names the Medplum store and reports it healthy while it answers', async () => {
      const res = await request(front.baseUrl).get('healthcheck');
      assert.equal(res.status, 200);
      assert.equal(res.body.store, 'medplum');
      assert.equal(res.body.ok, true);
      assert.deepEqual(res.body.medplum, { ok: true });
      assert.ok(!res.text.includes(medplum.baseUrl), 'a public endpoint does not show where the store is');
    });
  });

  describe('bearer tokens', () => {
    it('accepts a token issued by the Medplum, and the case submitted through /intake lands in the Medplum store as that caller', async () => {
      const patient = await adminWrite(medplum, 'post', 'Patient', { resourceType: 'Patient', name: [{ family: 'Fronted' }] });
      const token = await medplum.token({ scopes: ['patient/*.cruds'], patientId: patient.id, fhirUser: `Patient/${patient.id}` });
      const res = await submitCase(front, token, photos);
      assert.equal(res.status, 201, res.text);
      assert.equal(res.body.patient, `Patient/${patient.id}`);
      // Read back at the store itself, not through the front.
      const sr = await adminGet<ServiceRequest>(medplum, `ServiceRequest/${res.body.caseId}`);
      assert.equal(sr.subject?.reference, `Patient/${patient.id}`);
      const tasks = await adminGet<Bundle<Task>>(medplum, `Task?focus=ServiceRequest/${sr.id}`);
      assert.equal(tasks.entry?.length, 1);
      // The store saw the patient's own token (pass-through), not dermbridge's client.
      const audit = await adminGet<Bundle>(medplum, `AuditEvent?patient=Patient/${patient.id}&_count=200`);
      const who = (audit.entry ?? []).flatMap((e) => ((e.resource as { agent?: { who?: { reference?: string } }[] }).agent ?? []).map((a) => a.who?.reference));
      assert.ok(who.includes(`Patient/${patient.id}`), `audit agents: ${JSON.stringify(who)}`);
      assert.ok(!who.includes('ClientApplication/dermbridge-demo'), `audit agents: ${JSON.stringify(who)}`);
    });

    it('accepts a token from the Medplum\'s /oauth2/token for the admin API, which works on the Medplum store', async () => {
      const issued = await request(medplum.baseUrl).post('oauth2/token').type('form').send({ grant_type: 'client_credentials', client_id: 'dermbridge-demo', client_secret: 'dermbridge-demo-secret' });
      assert.equal(issued.status, 200, issued.text);
      const res = await request(front.baseUrl).get('admin/bulk/export?_type=Patient').set('Authorization', `Bearer ${issued.body.access_token}`);
      assert.equal(res.status, 200, res.text);
      assert.match(res.text, /"family":"Fronted"/);
    });

    it('refuses a token whose signature is not the Medplum\'s', async () => {
      const a = await medplum.token({ scopes: ['patient/*.cruds'], patientId: 'p1' });
      const b = await medplum.token({ scopes: ['system/*.cruds'] });
      // b's claims with a's signature: same key, wrong signature.
      const forged = [...b.split('.').slice(0, 2), a.split('.')[2]].join('.');
      const res = await request(front.baseUrl).get('intake/cases/x').set('Authorization', `Bearer ${forged}`);
      assert.equal(res.status, 401);
      assert.match(res.headers['www-authenticate'], /error="invalid_token"/);
      assert.match(res.body.issue[0].diagnostics, /signature is invalid \(not signed by Medplum\)/);
    });

    it('refuses a token signed by another server\'s key', async () => {
      const other = await startTestServer();
      try {
        const res = await request(front.baseUrl).get('intake/cases/x').set('Authorization', `Bearer ${await other.adminToken()}`);
        assert.equal(res.status, 401);
        assert.match(res.body.issue[0].diagnostics, /not signed by Medplum/);
      } finally {
        await other.close();
      }
    });

    it('refuses a token with the Medplum\'s signature but another issuer', async () => {
      const { accessToken } = await issueAccessToken(
        medplum.dermbridge.auth.keys,
        { issuer: 'https://elsewhere.example.org/', audience: 'https://elsewhere.example.org/fhir/R4', lifetimeSeconds: 300 },
        { clientId: 'test-client', scopes: ['system/*.cruds'] }
      );
      const res = await request(front.baseUrl).get('intake/cases/x').set('Authorization', `Bearer ${accessToken}`);
      assert.equal(res.status, 401);
      assert.match(res.body.issue[0].diagnostics, /invalid iss claim/);
    });

    it('refuses an expired token from the Medplum', async () => {
      const expired = await medplum.token({ scopes: ['system/*.cruds'], lifetimeSeconds: -60 });
      const res = await request(front.baseUrl).get('intake/cases/x').set('Authorization', `Bearer ${expired}`);
      assert.equal(res.status, 401);
      assert.match(res.body.issue[0].diagnostics, /expired/);
    });

    it('refuses a request without a token', async () => {
      const res = await request(front.baseUrl).post('intake/cases');
      assert.equal(res.status, 401);
      assert.match(res.headers['www-authenticate'], /^Bearer realm=/);
    });
  });

  describe('bots', () => {
    it('deploys every bot of the manifest to the Medplum store, with its Subscriptions, as a production start does', async () => {
      const outDir = mkdtempSync(join(tmpdir(), 'dermbridge-bots-'));
      try {
        const deployed = await deployBotsToStore(front.dermbridge.config, { outDir });
        assert.deepEqual(deployed.map((b) => b.name).sort(), ['disposition', 'photo-quality', 'sla-escalation', 'triage']);
        for (const bot of deployed) {
          const stored = await adminGet<Bot>(medplum, `Bot/${bot.botId}`);
          assert.ok(stored.identifier?.some((i) => i.system === BOT_IDENTIFIER_SYSTEM && i.value === bot.name));
          assert.match(stored.executableCode?.url ?? '', /^Binary\//, `${bot.name} has deployed code`);
          for (const id of bot.subscriptions) {
            const sub = await adminGet<Subscription>(medplum, `Subscription/${id}`);
            assert.equal(sub.channel?.endpoint, `Bot/${bot.botId}`);
          }
        }
      } finally {
        rmSync(outDir, { recursive: true, force: true });
      }
    });
  });

  // Last: stops the stand-in.
  describe('when the Medplum stops', () => {
    it('reports unhealthy (503) with the reason', async () => {
      const storeUrl = medplum.baseUrl;
      await medplum.close();
      // The last answer is reused for a second (cachedStoreHealth): poll, as an orchestrator does.
      let res = await request(front.baseUrl).get('healthcheck');
      for (let i = 0; i < 30 && res.status === 200; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        res = await request(front.baseUrl).get('healthcheck');
      }
      assert.equal(res.status, 503);
      assert.equal(res.body.ok, false);
      assert.equal(res.body.store, 'medplum');
      assert.deepEqual(res.body.medplum, { ok: false });
      assert.ok(!res.text.includes(storeUrl) && !/ECONNREFUSED/.test(res.text), 'the reason goes to the log, not to the public answer');
      medplum = undefined as unknown as TestServer;
    });
  });
});
