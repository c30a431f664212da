/**
 * Bad input on the FHIR surface: each a clear 4xx with an OperationOutcome, nothing stored, and
 * the server keeps serving afterwards.
 */
import assert from 'node:assert/strict';
import type { Patient } from '@medplum/fhirtypes';
import request from 'supertest';
import { startTestServer, type TestServer } from '../support/test-server';
import { assertOutcome, fhirHttp, FHIR_JSON, MRN, unique, type FhirHttp } from '../support/fhir-http';

describe('bad input to /fhir/R4', () => {
  let server: TestServer;
  let token: string;
  let fhir: FhirHttp;

  before(async () => {
    server = await startTestServer();
    token = await server.adminToken();
    fhir = fhirHttp(server.baseUrl, token);
  });

  after(async () => {
    await server.close();
  });

  const root = (): string => server.baseUrl.replace(/\/$/, '');
  const countByIdentifier = async (type: string, mrn: string, client = fhir): Promise<number> =>
    (await client.search(`${type}?identifier=${encodeURIComponent(`${MRN}|${mrn}`)}`)).entry?.length ?? 0;
  const patientJson = (mrn: string): string =>
    JSON.stringify({ resourceType: 'Patient', identifier: [{ system: MRN, value: mrn }], name: [{ family: 'Bad' }] } satisfies Patient);

  /** A healthy request after a bad one: the healthcheck, a create and a read. */
  const assertStillServing = async (client = fhir, base = root()): Promise<void> => {
    assert.equal((await request(base).get('/healthcheck')).status, 200);
    const mrn = unique('healthy');
    const created = await client.create<Patient>({ resourceType: 'Patient', identifier: [{ system: MRN, value: mrn }] });
    assert.equal((await client.get(`Patient/${created.id}`)).status, 200);
  };

  describe('POST /fhir/R4/:type', () => {
    it('answers 400 with an OperationOutcome to malformed JSON, and stores nothing', async () => {
      const mrn = unique('malformed');
      const res = await fhir.post('Patient', patientJson(mrn).slice(0, -5));
      const outcome = assertOutcome(res, 400);
      assert.match(JSON.stringify(outcome), /JSON/i);
      assert.equal(await countByIdentifier('Patient', mrn), 0);
      await assertStillServing();
    });

    it('answers 400 when the body resourceType differs from the type in the URL, and stores nothing', async () => {
      const mrn = unique('wrong-type');
      const res = await fhir.post('Patient', { resourceType: 'Observation', status: 'final', code: { text: 'x' }, identifier: [{ system: MRN, value: mrn }] });
      assertOutcome(res, 400);
      assert.equal(await countByIdentifier('Observation', mrn), 0);
      assert.equal(await countByIdentifier('Patient', mrn), 0);
      await assertStillServing();
    });

    it('answers 400 to a body without a resourceType, and stores nothing', async () => {
      const mrn = unique('no-type');
      const res = await fhir.post('Patient', { identifier: [{ system: MRN, value: mrn }] });
      assertOutcome(res, 400);
      assert.equal(await countByIdentifier('Patient', mrn), 0);
    });

    it('answers 400 to a JSON array body, and stores nothing', async () => {
      const mrn = unique('array');
      const res = await fhir.post('Patient', `[${patientJson(mrn)}]`);
      assertOutcome(res, 400);
      assert.equal(await countByIdentifier('Patient', mrn), 0);
      await assertStillServing();
    });

    it('answers 400 to a JSON string body', async () => {
      assertOutcome(await fhir.post('Patient', JSON.stringify('a Patient, honest')), 400);
      assertOutcome(await fhir.post('Patient', 'null'), 400);
      assertOutcome(await fhir.post('Patient', '42'), 400);
      await assertStillServing();
    });

    it('answers 400 to a body nested thousands of levels deep, and keeps serving', async () => {
      // Built as text: JSON.stringify itself would overflow the stack at this depth.
      const depth = 5000;
      const body = '{"resourceType":"Patient","extension":' + '[{"extension":'.repeat(depth) + '[]' + '}]'.repeat(depth) + '}';
      const res = await fhir.post('Patient', body);
      assertOutcome(res, 400);
      assert.match(res.text, /nested deeper than/);
      await fhir.create({ resourceType: 'Patient', name: [{ family: 'AfterTheBomb' }] });
    });

    it('answers 400 to an empty body', async () => {
      assertOutcome(await fhir.post('Patient', ''), 400);
    });

    it('answers 4xx with an OperationOutcome to a text/plain body, and stores nothing', async () => {
      const mrn = unique('text-plain');
      const res = await fhir.post('Patient', patientJson(mrn), { 'Content-Type': 'text/plain' });
      assert.ok(res.status === 400 || res.status === 415, `${res.status} ${res.text}`);
      assertOutcome(res, res.status);
      assert.equal(await countByIdentifier('Patient', mrn), 0);
      await assertStillServing();
    });

    it('answers 400 to an invalid resource and names the element, storing nothing', async () => {
      const mrn = unique('invalid');
      const res = await fhir.post('Patient', { resourceType: 'Patient', identifier: [{ system: MRN, value: mrn }], birthDate: 'last tuesday' });
      const outcome = assertOutcome(res, 400);
      assert.match(JSON.stringify(outcome), /birthDate/);
      assert.equal(await countByIdentifier('Patient', mrn), 0);
    });

    it('answers 400 to a resource with an element FHIR does not define, storing nothing', async () => {
      const mrn = unique('unknown-element');
      const res = await fhir.post('Patient', { resourceType: 'Patient', identifier: [{ system: MRN, value: mrn }], favouriteColour: 'blue' });
      const outcome = assertOutcome(res, 400);
      assert.match(JSON.stringify(outcome), /favouriteColour/);
      assert.equal(await countByIdentifier('Patient', mrn), 0);
    });
  });

  describe('PUT /fhir/R4/:type/:id', () => {
    it('answers 400 when the body id differs from the id in the URL, and changes nothing', async () => {
      const created = await fhir.create<Patient>({ resourceType: 'Patient', name: [{ family: 'Original' }] });
      const res = await fhir.put(`Patient/${created.id}`, { ...created, id: 'another-id', name: [{ family: 'Changed' }] });
      assertOutcome(res, 400);
      assert.equal((await fhir.get(`Patient/${created.id}`)).body.name[0].family, 'Original');
      assert.equal((await fhir.get('Patient/another-id')).status, 404);
    });

    it('answers 400 when the body resourceType differs from the URL type', async () => {
      const id = unique('put-wrong-type');
      assertOutcome(await fhir.put(`Patient/${id}`, { resourceType: 'Observation', id, status: 'final', code: { text: 'x' } }), 400);
      assert.equal((await fhir.get(`Observation/${id}`)).status, 404);
      assert.equal((await fhir.get(`Patient/${id}`)).status, 404);
    });
  });

  describe('unknown resource types', () => {
    it('answers 404 with an OperationOutcome to GET /fhir/R4/Foo and /fhir/R4/Foo/1', async () => {
      assertOutcome(await fhir.get('Foo'), 404);
      assertOutcome(await fhir.get('Foo/1'), 404);
    });

    it('answers 404 with an OperationOutcome to POST /fhir/R4/Foo', async () => {
      assertOutcome(await fhir.post('Foo', { resourceType: 'Foo' }), 404);
      await assertStillServing();
    });

    it('does not treat a lower-case type name as a resource type', async () => {
      assertOutcome(await fhir.get('patient'), 404);
    });
  });

  describe('oversized bodies', () => {
    let small: TestServer;
    let smallFhir: FhirHttp;

    before(async () => {
      small = await startTestServer({ maxBodyBytes: 1024 });
      smallFhir = fhirHttp(small.baseUrl, await small.adminToken());
    });

    after(async () => {
      await small.close();
    });

    it('answers 413 with an OperationOutcome to a JSON body over the limit, and stores nothing', async () => {
      const mrn = unique('big');
      const body = JSON.stringify({
        resourceType: 'Patient',
        identifier: [{ system: MRN, value: mrn }],
        name: [{ family: 'x'.repeat(2048) }],
      });
      assert.ok(Buffer.byteLength(body) > 1024);
      assertOutcome(await smallFhir.post('Patient', body), 413);
      assert.equal(await countByIdentifier('Patient', mrn, smallFhir), 0);
      await assertStillServing(smallFhir, small.baseUrl.replace(/\/$/, ''));
    });

    it('answers 413 to a Binary upload over the limit', async () => {
      const res = await request(small.baseUrl.replace(/\/$/, ''))
        .post('/fhir/R4/Binary')
        .set('Authorization', `Bearer ${await small.adminToken()}`)
        .set('Content-Type', 'image/png')
        .set('Accept', FHIR_JSON)
        .send(Buffer.alloc(4096, 7));
      assertOutcome(res, 413);
      const binaries = await smallFhir.search('Binary?_count=100');
      assert.equal(binaries.entry?.length ?? 0, 0);
    });

    it('answers 413 to a transaction Bundle over the limit, and stores none of its entries', async () => {
      const mrn = unique('big-tx');
      const entry = (i: number) => ({
        request: { method: 'POST', url: 'Patient' },
        resource: { resourceType: 'Patient', identifier: [{ system: MRN, value: mrn }], name: [{ family: `n${i}`.padEnd(100, 'x') }] },
      });
      const res = await smallFhir.post('', { resourceType: 'Bundle', type: 'transaction', entry: Array.from({ length: 20 }, (_, i) => entry(i)) });
      assertOutcome(res, 413);
      assert.equal(await countByIdentifier('Patient', mrn, smallFhir), 0);
    });
  });
});
