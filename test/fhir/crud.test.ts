/**
 * The FHIR RESTful instance interactions over HTTP (http://hl7.org/fhir/R4/http.html):
 * create, read, update, vread, history, delete, patch, and update-as-create.
 */
import assert from 'node:assert/strict';
import type { Bundle, Patient } from '@medplum/fhirtypes';
import { startTestServer, type TestServer } from '../support/test-server';
import { assertOutcome, fhirHttp, MRN, unique, type FhirHttp, type Stored } from '../support/fhir-http';

describe('FHIR instance interactions (/fhir/R4/:type/:id)', () => {
  let server: TestServer;
  let fhir: FhirHttp;

  before(async () => {
    server = await startTestServer();
    fhir = fhirHttp(server.baseUrl, await server.adminToken());
  });

  after(async () => {
    await server.close();
  });

  const newPatient = (family = 'Crud'): Patient => ({
    resourceType: 'Patient',
    identifier: [{ system: MRN, value: unique('crud') }],
    name: [{ family, given: ['Ada'] }],
    birthDate: '1970-01-01',
  });

  const historyOf = async (id: string): Promise<Bundle<Stored<Patient>>> => {
    const res = await fhir.get(`Patient/${id}/_history`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.type, 'history');
    return res.body as Bundle<Stored<Patient>>;
  };

  describe('POST /fhir/R4/:type', () => {
    it('answers 201 with a Location and an ETag naming the new version', async () => {
      const res = await fhir.post('Patient', newPatient());
      assert.equal(res.status, 201, res.text);
      const created = res.body as Stored<Patient>;
      assert.ok(created.id);
      assert.ok(created.meta.versionId);
      assert.ok(created.meta.lastUpdated);
      assert.equal(res.headers.etag, `W/"${created.meta.versionId}"`);
      assert.equal(res.headers.location, `${server.baseUrl}fhir/R4/Patient/${created.id}/_history/${created.meta.versionId}`);
      assert.match(res.headers['content-type'], /application\/fhir\+json/);
    });

    it('assigns the id itself and ignores an id the client sent', async () => {
      const clientId = unique('client-chosen');
      const res = await fhir.post('Patient', { ...newPatient(), id: clientId });
      assert.equal(res.status, 201, res.text);
      assert.notEqual(res.body.id, clientId);
      assert.equal((await fhir.get(`Patient/${clientId}`)).status, 404);
      assert.equal((await fhir.get(`Patient/${res.body.id}`)).status, 200);
    });

    it('ignores a client-sent meta.versionId and meta.lastUpdated', async () => {
      const res = await fhir.post('Patient', { ...newPatient(), meta: { versionId: 'mine', lastUpdated: '2001-01-01T00:00:00Z' } });
      assert.equal(res.status, 201, res.text);
      assert.notEqual(res.body.meta.versionId, 'mine');
      assert.notEqual(res.body.meta.lastUpdated, '2001-01-01T00:00:00Z');
    });
  });

  describe('GET /fhir/R4/:type/:id', () => {
    it('returns the stored resource with its ETag and Last-Modified', async () => {
      const created = await fhir.create(newPatient('Lovelace'));
      const res = await fhir.get(`Patient/${created.id}`);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, created);
      assert.equal(res.headers.etag, `W/"${created.meta.versionId}"`);
      assert.equal(res.headers['last-modified'], new Date(created.meta.lastUpdated).toUTCString());
    });

    it('answers 404 with an OperationOutcome for an id that was never created', async () => {
      assertOutcome(await fhir.get(`Patient/${unique('nobody')}`), 404);
    });
  });

  describe('PUT /fhir/R4/:type/:id', () => {
    it('stores a new version with a new versionId', async () => {
      const created = await fhir.create(newPatient());
      const res = await fhir.put(`Patient/${created.id}`, { ...created, birthDate: '1971-02-03' });
      assert.equal(res.status, 200, res.text);
      assert.notEqual(res.body.meta.versionId, created.meta.versionId);
      assert.equal(res.headers.etag, `W/"${res.body.meta.versionId}"`);
      const read = await fhir.get(`Patient/${created.id}`);
      assert.equal(read.body.birthDate, '1971-02-03');
      assert.equal(read.body.meta.versionId, res.body.meta.versionId);
    });

    it('creates no new version when the content is identical', async () => {
      const created = await fhir.create(newPatient());
      const res = await fhir.put(`Patient/${created.id}`, created);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.meta.versionId, created.meta.versionId);
      assert.equal((await historyOf(created.id)).entry?.length, 1);
    });

    it('answers 412 when If-Match names an old version, and changes nothing', async () => {
      const created = await fhir.create(newPatient());
      const updated = await fhir.put(`Patient/${created.id}`, { ...created, gender: 'female' });
      assert.equal(updated.status, 200);
      const stale = await fhir.put(`Patient/${created.id}`, { ...created, gender: 'male' }, { 'If-Match': `W/"${created.meta.versionId}"` });
      assertOutcome(stale, 412);
      const read = await fhir.get(`Patient/${created.id}`);
      assert.equal(read.body.gender, 'female');
      assert.equal(read.body.meta.versionId, updated.body.meta.versionId);
    });

    it('applies the update when If-Match names the current version', async () => {
      const created = await fhir.create(newPatient());
      const res = await fhir.put(`Patient/${created.id}`, { ...created, gender: 'other' }, { 'If-Match': `W/"${created.meta.versionId}"` });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.gender, 'other');
    });

    it('creates the resource under the client id when it does not exist yet (update-as-create)', async () => {
      const id = unique('client-id');
      const res = await fhir.put(`Patient/${id}`, { ...newPatient(), id });
      assert.ok([200, 201].includes(res.status), `${res.status} ${res.text}`);
      assert.equal(res.body.id, id);
      const read = await fhir.get(`Patient/${id}`);
      assert.equal(read.status, 200);
      assert.equal(read.body.name[0].family, 'Crud');
      assert.equal((await historyOf(id)).entry?.length, 1);
    });

    // http://hl7.org/fhir/R4/http.html#update: "If the interaction results in creation, the server SHALL return 201".
    it('answers 201 Created with a Location when the update created the resource', async () => {
      const id = unique('client-id');
      const res = await fhir.put(`Patient/${id}`, { ...newPatient(), id });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.headers.location, `${server.baseUrl}fhir/R4/Patient/${id}/_history/${res.body.meta.versionId}`);
    });
  });

  describe('GET /fhir/R4/:type/:id/_history', () => {
    it('lists every version newest first', async () => {
      const v1 = await fhir.create(newPatient());
      const v2 = (await fhir.put(`Patient/${v1.id}`, { ...v1, birthDate: '1980-01-01' })).body as Stored<Patient>;
      const v3 = (await fhir.put(`Patient/${v1.id}`, { ...v2, birthDate: '1990-01-01' })).body as Stored<Patient>;
      const history = await historyOf(v1.id);
      assert.deepEqual(
        history.entry?.map((e) => e.resource?.meta.versionId),
        [v3.meta.versionId, v2.meta.versionId, v1.meta.versionId]
      );
      assert.deepEqual(
        history.entry?.map((e) => e.resource?.birthDate),
        ['1990-01-01', '1980-01-01', '1970-01-01']
      );
    });

    it('returns an old version unchanged by vread', async () => {
      const v1 = await fhir.create(newPatient());
      const v2 = await fhir.put(`Patient/${v1.id}`, { ...v1, birthDate: '2000-12-31' });
      assert.equal(v2.status, 200);
      const old = await fhir.get(`Patient/${v1.id}/_history/${v1.meta.versionId}`);
      assert.equal(old.status, 200, old.text);
      assert.deepEqual(old.body, v1);
      const current = await fhir.get(`Patient/${v1.id}/_history/${v2.body.meta.versionId}`);
      assert.equal(current.body.birthDate, '2000-12-31');
    });

    it('answers 404 to vread of a version that does not exist', async () => {
      const v1 = await fhir.create(newPatient());
      assertOutcome(await fhir.get(`Patient/${v1.id}/_history/${unique('vid')}`), 404);
    });
  });

  describe('DELETE /fhir/R4/:type/:id', () => {
    it('deletes the resource, after which a read answers 410 Gone', async () => {
      const created = await fhir.create(newPatient());
      const res = await fhir.delete(`Patient/${created.id}`);
      assert.ok([200, 204].includes(res.status), `${res.status} ${res.text}`);
      assertOutcome(await fhir.get(`Patient/${created.id}`), 410);
    });

    it('removes the deleted resource from search results', async () => {
      const created = await fhir.create(newPatient());
      const identifier = `${MRN}|${created.identifier?.[0].value}`;
      assert.equal((await fhir.search(`Patient?identifier=${encodeURIComponent(identifier)}`)).entry?.length, 1);
      await fhir.delete(`Patient/${created.id}`);
      assert.equal((await fhir.search(`Patient?identifier=${encodeURIComponent(identifier)}`)).entry?.length, 0);
    });

    it('keeps the history, with the delete as its newest entry', async () => {
      const created = await fhir.create(newPatient());
      await fhir.delete(`Patient/${created.id}`);
      const history = await historyOf(created.id);
      assert.equal(history.entry?.length, 2);
      assert.equal(history.entry?.[0].request?.method, 'DELETE');
      assert.equal(history.entry?.[1].resource?.meta.versionId, created.meta.versionId);
    });

    it('keeps the earlier versions readable by vread after the delete', async () => {
      const created = await fhir.create(newPatient());
      await fhir.delete(`Patient/${created.id}`);
      const old = await fhir.get(`Patient/${created.id}/_history/${created.meta.versionId}`);
      assert.equal(old.status, 200, old.text);
      assert.equal(old.body.id, created.id);
    });
  });

  describe('PATCH /fhir/R4/:type/:id', () => {
    it('applies a JSON Patch and stores it as a new version', async () => {
      const created = await fhir.create(newPatient());
      const res = await fhir.patch(`Patient/${created.id}`, [
        { op: 'replace', path: '/birthDate', value: '1999-09-09' },
        { op: 'add', path: '/gender', value: 'female' },
      ]);
      assert.equal(res.status, 200, res.text);
      assert.notEqual(res.body.meta.versionId, created.meta.versionId);
      const read = await fhir.get(`Patient/${created.id}`);
      assert.equal(read.body.birthDate, '1999-09-09');
      assert.equal(read.body.gender, 'female');
      assert.equal(read.body.name[0].family, 'Crud');
    });

    it('rejects a patch whose test operation fails, and changes nothing', async () => {
      const created = await fhir.create(newPatient());
      const res = await fhir.patch(`Patient/${created.id}`, [
        { op: 'test', path: '/birthDate', value: '1800-01-01' },
        { op: 'replace', path: '/birthDate', value: '1999-09-09' },
      ]);
      assert.ok(res.status >= 400 && res.status < 500, `${res.status} ${res.text}`);
      assert.equal(res.body.resourceType, 'OperationOutcome');
      const read = await fhir.get(`Patient/${created.id}`);
      assert.equal(read.body.birthDate, '1970-01-01');
      assert.equal(read.body.meta.versionId, created.meta.versionId);
    });

    it('answers 404 to a patch of a resource that does not exist', async () => {
      assertOutcome(await fhir.patch(`Patient/${unique('nobody')}`, [{ op: 'add', path: '/gender', value: 'male' }]), 404);
    });
  });
});
