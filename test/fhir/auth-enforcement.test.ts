/**
 * Authentication and SMART scope enforcement on every FHIR interaction: bearer tokens (RFC 6750),
 * system/ and patient/ scopes (v2 and v1 syntax), and the patient compartment, where another
 * patient's data is answered as 404 so that its existence does not leak.
 * https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Bundle, Observation, Patient } from '@medplum/fhirtypes';
import { UnsecuredJWT } from 'jose';
import request from 'supertest';
import { observationOf } from '../security/authorization-fixture';
import { forgedToken } from '../support/forged-token';
import { startTestServer, type TestServer } from '../support/test-server';
import { assertOutcome, fhirHttp, MRN, refsOf, resourcesOf, unique, type FhirHttp, type Stored } from '../support/fhir-http';

describe('authorization on /fhir/R4', () => {
  let server: TestServer;
  let admin: FhirHttp;
  let patientA: Stored<Patient>;
  let patientB: Stored<Patient>;
  let observationA: Stored<Observation>;
  let observationB: Stored<Observation>;
  /** A's panel, listing B's Observation as a member: a path for _include to reach B. */
  let panelA: Stored<Observation>;
  /** B's Observation whose focus is patient A: a path for _revinclude from A to reach B. */
  let focusedOnA: Stored<Observation>;

  const root = (): string => server.baseUrl.replace(/\/$/, '');
  const as = async (scopes: string[], patientId?: string): Promise<FhirHttp> =>
    fhirHttp(server.baseUrl, await server.token({ scopes, patientId, fhirUser: patientId ? `Patient/${patientId}` : undefined }));
  const countByIdentifier = async (type: string, value: string): Promise<number> =>
    (await admin.search(`${type}?identifier=${encodeURIComponent(`${MRN}|${value}`)}`)).entry?.length ?? 0;

  before(async () => {
    server = await startTestServer();
    admin = fhirHttp(server.baseUrl, await server.adminToken());
    patientA = await admin.create<Patient>({ resourceType: 'Patient', identifier: [{ system: MRN, value: unique('A') }], name: [{ family: 'Alpha' }] });
    patientB = await admin.create<Patient>({ resourceType: 'Patient', identifier: [{ system: MRN, value: unique('B') }], name: [{ family: 'Beta' }] });
    observationA = await admin.create(observationOf(patientA, 'A lesion'));
    observationB = await admin.create(observationOf(patientB, 'B lesion'));
    panelA = await admin.create({ ...observationOf(patientA, 'A panel'), hasMember: [{ reference: `Observation/${observationB.id}` }] });
    focusedOnA = await admin.create({ ...observationOf(patientB, 'B about A'), focus: [{ reference: `Patient/${patientA.id}` }] });
  });

  after(async () => {
    await server.close();
  });

  describe('bearer tokens', () => {
    const assertUnauthorized = (res: request.Response): void => {
      assertOutcome(res, 401);
      assert.match(res.headers['www-authenticate'] ?? '', /^Bearer /);
    };

    it('answers 401 with an OperationOutcome and a WWW-Authenticate challenge without a token', async () => {
      const anonymous = fhirHttp(server.baseUrl, undefined);
      assertUnauthorized(await anonymous.get(`Patient/${patientA.id}`));
      assertUnauthorized(await anonymous.get('Patient'));
      const mrn = unique('anonymous');
      assertUnauthorized(await anonymous.post('Patient', { resourceType: 'Patient', identifier: [{ system: MRN, value: mrn }] }));
      assert.equal(await countByIdentifier('Patient', mrn), 0);
    });

    it('answers 401 to an unknown resource type without a token rather than revealing that it is unknown', async () => {
      assertUnauthorized(await fhirHttp(server.baseUrl, undefined).get('Foo'));
    });

    it('answers 401 to an expired token, naming the expiry', async () => {
      const expired = await server.token({ scopes: ['system/*.cruds'], lifetimeSeconds: -10 });
      const res = await fhirHttp(server.baseUrl, expired).get(`Patient/${patientA.id}`);
      assertUnauthorized(res);
      assert.match(res.headers['www-authenticate'], /error="invalid_token"/);
      assert.match(res.text, /expired/i);
    });

    it('answers 401 to a token signed by another key under the server key id', async () => {
      const forged = await forgedToken(server);
      const res = await fhirHttp(server.baseUrl, forged).get(`Patient/${patientA.id}`);
      assertUnauthorized(res);
      assert.match(res.headers['www-authenticate'], /error="invalid_token"/);
    });

    it('answers 401 to a token signed by a key the server does not know', async () => {
      const forged = await forgedToken(server, { kid: 'attacker-key' });
      assertUnauthorized(await fhirHttp(server.baseUrl, forged).get('Patient'));
    });

    it('answers 401 to an unsigned (alg: none) token', async () => {
      const unsigned = new UnsecuredJWT({ client_id: 'attacker', scope: 'system/*.cruds' })
        .setIssuer(server.baseUrl)
        .setAudience(`${server.baseUrl}fhir/R4`)
        .setSubject('ClientApplication/attacker')
        .setJti(randomUUID())
        .setExpirationTime('5m')
        .encode();
      assertUnauthorized(await fhirHttp(server.baseUrl, unsigned).get('Patient'));
    });

    it('answers 401 to a token that is not a JWT', async () => {
      assertUnauthorized(await fhirHttp(server.baseUrl, 'not-a-token').get('Patient'));
    });

    it('serves metadata, healthcheck and SMART configuration without a token', async () => {
      const metadata = await request(root()).get('/fhir/R4/metadata');
      assert.equal(metadata.status, 200);
      assert.equal(JSON.parse(metadata.text).resourceType, 'CapabilityStatement');
      assert.equal((await request(root()).get('/healthcheck')).status, 200);
      const smart = await request(root()).get('/.well-known/smart-configuration');
      assert.equal(smart.status, 200);
      assert.equal(smart.body.token_endpoint, `${server.baseUrl}oauth2/token`);
    });

    it('answers a wrong client secret at the token endpoint in OAuth error format', async () => {
      const res = await request(root())
        .post('/oauth2/token')
        .type('form')
        .send({ grant_type: 'client_credentials', client_id: server.dermbridge.config.demoClient.clientId, client_secret: 'wrong' });
      assert.equal(res.status, 401);
      assert.equal(res.body.error, 'invalid_client');
      assert.equal(res.body.resourceType, undefined);
    });
  });

  describe('system/ scopes', () => {
    it('system/Patient.rs reads and searches Patients', async () => {
      const client = await as(['system/Patient.rs']);
      assert.equal((await client.get(`Patient/${patientA.id}`)).status, 200);
      const bundle = await client.search('Patient');
      assert.deepEqual(refsOf(resourcesOf(bundle)), refsOf([patientA, patientB]));
    });

    it('system/Patient.rs gets 403 on create, and nothing is stored', async () => {
      const client = await as(['system/Patient.rs']);
      const mrn = unique('refused');
      assertOutcome(await client.post('Patient', { resourceType: 'Patient', identifier: [{ system: MRN, value: mrn }] }), 403);
      assert.equal(await countByIdentifier('Patient', mrn), 0);
    });

    it('system/Patient.rs gets 403 on reading and searching Observations', async () => {
      const client = await as(['system/Patient.rs']);
      assertOutcome(await client.get(`Observation/${observationA.id}`), 403);
      assertOutcome(await client.get('Observation'), 403);
      assertOutcome(await client.get(`Patient?_revinclude=Observation:subject`), 403);
    });

    it('system/*.rs cannot create, update, patch or delete, and nothing changes', async () => {
      const client = await as(['system/*.rs']);
      const mrn = unique('readonly');
      assertOutcome(await client.post('Patient', { resourceType: 'Patient', identifier: [{ system: MRN, value: mrn }] }), 403);
      assertOutcome(await client.put(`Patient/${patientA.id}`, { ...patientA, gender: 'male' }), 403);
      assertOutcome(await client.patch(`Patient/${patientA.id}`, [{ op: 'add', path: '/gender', value: 'male' }]), 403);
      assertOutcome(await client.delete(`Patient/${patientA.id}`), 403);
      assert.equal(await countByIdentifier('Patient', mrn), 0);
      const current = await admin.get(`Patient/${patientA.id}`);
      assert.equal(current.body.meta.versionId, patientA.meta.versionId);
    });

    it('system/*.rs cannot write through a transaction Bundle', async () => {
      const client = await as(['system/*.rs']);
      const mrn = unique('readonly-tx');
      const res = await client.post('', {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [{ request: { method: 'POST', url: 'Patient' }, resource: { resourceType: 'Patient', identifier: [{ system: MRN, value: mrn }] } }],
      });
      assert.equal(res.status, 403, res.text);
      assert.equal(await countByIdentifier('Patient', mrn), 0);
    });
  });

  const patientScopeCases = [
    { name: 'SMART v2 patient/*.rs', read: ['patient/*.rs'], write: ['patient/*.cruds'] },
    { name: 'SMART v1 patient/*.read', read: ['patient/*.read'], write: ['patient/*.read', 'patient/*.write'] },
  ];

  for (const scopes of patientScopeCases) {
    describe(`patient/ scopes (${scopes.name}) for patient A`, () => {
      let reader: FhirHttp;
      let writer: FhirHttp;

      before(async () => {
        reader = await as(scopes.read, patientA.id);
        writer = await as(scopes.write, patientA.id);
      });

      it('reads patient A and A’s Observation', async () => {
        assert.equal((await reader.get(`Patient/${patientA.id}`)).status, 200);
        assert.equal((await reader.get(`Observation/${observationA.id}`)).status, 200);
      });

      it('finds only A’s Observations and only A when searching', async () => {
        assert.deepEqual(refsOf(resourcesOf(await reader.search('Observation'))), refsOf([observationA, panelA]));
        assert.deepEqual(refsOf(resourcesOf(await reader.search('Patient'))), refsOf([patientA]));
        assert.deepEqual(resourcesOf(await reader.search(`Observation?subject=Patient/${patientB.id}`)), []);
        assert.deepEqual(resourcesOf(await reader.search(`Observation?_id=${observationB.id}`)), []);
        assert.equal((await reader.search('Observation?_total=accurate')).total, 2);
      });

      it('gets 404, not 403, for patient B and B’s Observation', async () => {
        assertOutcome(await reader.get(`Patient/${patientB.id}`), 404);
        assertOutcome(await reader.get(`Observation/${observationB.id}`), 404);
        assertOutcome(await reader.get(`Observation/${observationB.id}/_history/${observationB.meta.versionId}`), 404);
      });

      it('gets 404 for the history of patient B', async () => {
        assertOutcome(await reader.get(`Patient/${patientB.id}/_history`), 404);
        assertOutcome(await reader.get(`Observation/${observationB.id}/_history`), 404);
      });

      it('never receives B’s data through _include or _revinclude', async () => {
        const included = await reader.search('Observation?_include=Observation:subject');
        assert.deepEqual(refsOf(resourcesOf(included)), refsOf([observationA, panelA, patientA]));
        const revIncluded = await reader.search('Patient?_revinclude=Observation:subject');
        assert.deepEqual(refsOf(resourcesOf(revIncluded)), refsOf([patientA, observationA, panelA]));
      });

      it('never receives B’s Observation through an _include of A’s panel members', async () => {
        const bundle = await reader.search(`Observation?_id=${panelA.id}&_include=Observation:has-member`);
        assert.deepEqual(refsOf(resourcesOf(bundle)), refsOf([panelA]));
        assert.ok(!JSON.stringify(bundle).includes('B lesion'));
      });

      it('never receives B’s Observation about A through _revinclude', async () => {
        const bundle = await reader.search(`Patient?_id=${patientA.id}&_revinclude=Observation:focus`);
        assert.deepEqual(refsOf(resourcesOf(bundle)), refsOf([patientA]));
        assert.ok(!JSON.stringify(bundle).includes(focusedOnA.id));
      });

      it('never receives B’s data through a chained search', async () => {
        const chained = await reader.search(`Observation?subject:Patient.family=Beta`);
        assert.deepEqual(resourcesOf(chained), []);
      });

      it('gets 404 for patient B inside a batch Bundle', async () => {
        const res = await reader.post('', {
          resourceType: 'Bundle',
          type: 'batch',
          entry: [{ request: { method: 'GET', url: `Patient/${patientB.id}` } }, { request: { method: 'GET', url: `Patient/${patientA.id}` } }],
        });
        assert.equal(res.status, 200, res.text);
        const entries = (res.body as Bundle).entry ?? [];
        assert.equal(entries[0].response?.status.split(' ')[0], '404');
        assert.equal(entries[0].resource, undefined);
        assert.equal(entries[1].response?.status.split(' ')[0], '200');
        assert.ok(!JSON.stringify(res.body).includes('Beta'));
      });

      it('cannot create anything with read-only scopes', async () => {
        const marker = unique('ro');
        const res = await reader.post('Observation', { ...observationOf(patientA, 'mine'), identifier: [{ system: MRN, value: marker }] });
        assertOutcome(res, 403);
        assert.equal(await countByIdentifier('Observation', marker), 0);
      });

      it('with write scopes creates an Observation for A but gets 403 for one about B', async () => {
        const mine = unique('mine');
        const res = await writer.post('Observation', { ...observationOf(patientA, 'mine'), identifier: [{ system: MRN, value: mine }] });
        assert.equal(res.status, 201, res.text);
        const theirs = unique('theirs');
        assertOutcome(await writer.post('Observation', { ...observationOf(patientB, 'theirs'), identifier: [{ system: MRN, value: theirs }] }), 403);
        assert.equal(await countByIdentifier('Observation', theirs), 0);
        // Tidy up so that the compartment searches above keep seeing exactly A's two Observations.
        await admin.delete(`Observation/${res.body.id}`);
      });

      it('with write scopes cannot create a Patient other than A', async () => {
        const mrn = unique('other-patient');
        assertOutcome(await writer.post('Patient', { resourceType: 'Patient', identifier: [{ system: MRN, value: mrn }] }), 403);
        assert.equal(await countByIdentifier('Patient', mrn), 0);
      });

      it('with write scopes cannot change, move or delete B’s Observation', async () => {
        assertOutcome(await writer.put(`Observation/${observationB.id}`, { ...observationB, status: 'cancelled' }), 404);
        assertOutcome(
          await writer.put(`Observation/${observationB.id}`, { ...observationB, subject: { reference: `Patient/${patientA.id}` } }),
          404
        );
        assertOutcome(await writer.patch(`Observation/${observationB.id}`, [{ op: 'replace', path: '/status', value: 'cancelled' }]), 404);
        assertOutcome(await writer.delete(`Observation/${observationB.id}`), 404);
        const current = await admin.get(`Observation/${observationB.id}`);
        assert.equal(current.status, 200);
        assert.equal(current.body.meta.versionId, observationB.meta.versionId);
      });

      it('with write scopes cannot move A’s Observation to patient B', async () => {
        const moved = await writer.put(`Observation/${observationA.id}`, { ...observationA, subject: { reference: `Patient/${patientB.id}` } });
        assertOutcome(moved, 403);
        assert.equal((await admin.get(`Observation/${observationA.id}`)).body.subject.reference, `Patient/${patientA.id}`);
      });

      it('with write scopes cannot write B’s data through a transaction, and the transaction stores nothing', async () => {
        const mine = unique('tx-mine');
        const theirs = unique('tx-theirs');
        const res = await writer.post('', {
          resourceType: 'Bundle',
          type: 'transaction',
          entry: [
            { request: { method: 'POST', url: 'Observation' }, resource: { ...observationOf(patientA, 'mine'), identifier: [{ system: MRN, value: mine }] } },
            { request: { method: 'POST', url: 'Observation' }, resource: { ...observationOf(patientB, 'theirs'), identifier: [{ system: MRN, value: theirs }] } },
          ],
        });
        assert.equal(res.status, 403, res.text);
        assert.equal(await countByIdentifier('Observation', mine), 0);
        assert.equal(await countByIdentifier('Observation', theirs), 0);
      });

      it('gets nothing from patient/ scopes without a patient in context', async () => {
        const noPatient = fhirHttp(server.baseUrl, await server.token({ scopes: scopes.read }));
        assertOutcome(await noPatient.get(`Patient/${patientA.id}`), 403);
      });
    });
  }
});
