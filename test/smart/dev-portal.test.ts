import type { Bundle, Patient } from '@medplum/fhirtypes';
import { strict as assert } from 'node:assert';
import request from 'supertest';
import type { TestServer } from '../support/test-server';
import { startTestServer } from '../support/test-server';

/** supertest joins paths onto the base as given; ours ends with a slash. */
const root = (s: TestServer): string => s.baseUrl.replace(/\/$/, '');

describe('POST /ehr/portal (the development patient portal that opens the intake page)', () => {
  let server: TestServer;
  let mine: Patient;
  let other: Patient;

  before(async () => {
    server = await startTestServer({ smart: { clientId: 'dermbridge-review', ehrs: [], devEhr: true } });
    const admin = await server.adminToken();
    const create = async (family: string): Promise<Patient> =>
      (
        await request(root(server))
          .post('/fhir/R4/Patient')
          .set('Authorization', `Bearer ${admin}`)
          .set('Content-Type', 'application/fhir+json')
          .send(JSON.stringify({ resourceType: 'Patient', name: [{ family }] }))
      ).body as Patient;
    mine = await create('Portalmine');
    other = await create('Portalother');
  });

  after(async () => {
    await server.close();
  });

  const tokenFrom = (location: string): string => decodeURIComponent(location.split('#token=')[1] ?? '');

  it('opens the intake page with a token confined to the chosen patient', async () => {
    const res = await request(root(server)).post('/ehr/portal').type('form').send({ as: 'patient', patient: mine.id });
    assert.equal(res.status, 303);
    assert.match(res.headers.location, /^\/intake\/#token=/);
    const token = tokenFrom(res.headers.location);
    const own = await request(root(server)).get(`/fhir/R4/Patient/${mine.id}`).set('Authorization', `Bearer ${token}`);
    assert.equal(own.status, 200);
    const foreign = await request(root(server)).get(`/fhir/R4/Patient/${other.id}`).set('Authorization', `Bearer ${token}`);
    assert.equal(foreign.status, 404);
    const search = await request(root(server)).get('/fhir/R4/Patient?name=portal').set('Authorization', `Bearer ${token}`);
    assert.deepEqual((search.body as Bundle<Patient>).entry?.map((e) => e.resource?.id), [mine.id]);
  });

  it('opens the PCP variant with a clinician token for the chosen practitioner', async () => {
    const admin = await server.adminToken();
    const pcp = (
      await request(root(server))
        .post('/fhir/R4/Practitioner')
        .set('Authorization', `Bearer ${admin}`)
        .set('Content-Type', 'application/fhir+json')
        .send(JSON.stringify({ resourceType: 'Practitioner', name: [{ family: 'Referrer' }] }))
    ).body as { id: string };
    const res = await request(root(server)).post('/ehr/portal').type('form').send({ as: 'pcp', practitioner: `Practitioner/${pcp.id}` });
    assert.equal(res.status, 303);
    assert.match(res.headers.location, /^\/intake\/pcp#token=/);
    const read = await request(root(server)).get(`/fhir/R4/Patient/${other.id}`).set('Authorization', `Bearer ${tokenFrom(res.headers.location)}`);
    assert.equal(read.status, 200);
  });

  it('refuses a patient that is not in the directory, and issues no token', async () => {
    const res = await request(root(server)).post('/ehr/portal').type('form').send({ as: 'patient', patient: 'no-such-patient' });
    assert.equal(res.status, 400);
    assert.doesNotMatch(res.text, /token=/);
  });

  it('does not exist when the development EHR is off', async () => {
    const off = await startTestServer();
    try {
      const res = await request(root(off)).post('/ehr/portal').type('form').send({ as: 'patient', patient: mine.id });
      assert.equal(res.status, 404);
    } finally {
      await off.close();
    }
  });
});
