/**
 * Conditional create and update (http://hl7.org/fhir/R4/http.html#ccreate, #cond-update): the
 * interactions that make re-sending the same identifier safe, also under concurrency.
 */
import assert from 'node:assert/strict';
import type { Patient } from '@medplum/fhirtypes';
import { startTestServer, type TestServer } from '../support/test-server';
import { assertOutcome, fhirHttp, MRN, unique, type FhirHttp } from '../support/fhir-http';

describe('conditional interactions on /fhir/R4/Patient', () => {
  let server: TestServer;
  let fhir: FhirHttp;

  before(async () => {
    server = await startTestServer();
    fhir = fhirHttp(server.baseUrl, await server.adminToken());
  });

  after(async () => {
    await server.close();
  });

  const patientWith = (mrn: string, family = 'Conditional'): Patient => ({
    resourceType: 'Patient',
    identifier: [{ system: MRN, value: mrn }],
    name: [{ family }],
  });
  const criteria = (mrn: string): string => `identifier=${encodeURIComponent(`${MRN}|${mrn}`)}`;
  const matching = async (mrn: string): Promise<string[]> =>
    ((await fhir.search<Patient>(`Patient?${criteria(mrn)}`)).entry ?? []).map((e) => e.resource?.id as string);

  describe('POST /fhir/R4/:type with If-None-Exist', () => {
    it('creates (201) the first time and returns the existing resource (200) the second time', async () => {
      const mrn = unique('ine');
      const first = await fhir.post('Patient', patientWith(mrn), { 'If-None-Exist': criteria(mrn) });
      assert.equal(first.status, 201, first.text);
      const second = await fhir.post('Patient', patientWith(mrn, 'Resent'), { 'If-None-Exist': criteria(mrn) });
      assert.equal(second.status, 200, second.text);
      assert.equal(second.body.id, first.body.id);
      assert.equal(second.body.meta.versionId, first.body.meta.versionId);
      assert.equal(second.body.name[0].family, 'Conditional', 'the existing resource is returned unchanged');
      assert.deepEqual(await matching(mrn), [first.body.id]);
    });

    it('creates exactly one Patient when 20 identical requests arrive at once', async () => {
      const mrn = unique('ine-concurrent');
      const responses = await Promise.all(
        Array.from({ length: 20 }, () => fhir.post('Patient', patientWith(mrn), { 'If-None-Exist': criteria(mrn) }))
      );
      const statuses = responses.map((r) => r.status);
      assert.ok(statuses.every((s) => s === 200 || s === 201), `statuses: ${statuses.join(',')}`);
      assert.equal(statuses.filter((s) => s === 201).length, 1, `statuses: ${statuses.join(',')}`);
      const ids = new Set(responses.map((r) => r.body.id as string));
      assert.equal(ids.size, 1, 'every response names the same Patient');
      assert.deepEqual(await matching(mrn), [...ids]);
    });

    it('creates exactly one Patient per identifier when requests for several identifiers interleave', async () => {
      const mrns = [unique('mix-a'), unique('mix-b'), unique('mix-c')];
      await Promise.all(
        Array.from({ length: 30 }, (_, i) => fhir.post('Patient', patientWith(mrns[i % 3]), { 'If-None-Exist': criteria(mrns[i % 3]) }))
      );
      for (const mrn of mrns) {
        assert.equal((await matching(mrn)).length, 1, `Patients with ${mrn}`);
      }
    });

    it('answers 412 when the criteria match more than one resource, and creates nothing', async () => {
      const mrn = unique('ine-multiple');
      await fhir.create(patientWith(mrn));
      await fhir.create(patientWith(mrn));
      assertOutcome(await fhir.post('Patient', patientWith(mrn), { 'If-None-Exist': criteria(mrn) }), 412);
      assert.equal((await matching(mrn)).length, 2);
    });

    it('answers 400 to criteria with an unknown search parameter, and creates nothing', async () => {
      const mrn = unique('ine-bad');
      assertOutcome(await fhir.post('Patient', patientWith(mrn), { 'If-None-Exist': 'no-such-param=1' }), 400);
      assert.equal((await matching(mrn)).length, 0);
    });
  });

  describe('PUT /fhir/R4/:type?criteria', () => {
    it('creates the resource when nothing matches, then updates the same one', async () => {
      const mrn = unique('cu');
      const created = await fhir.put(`Patient?${criteria(mrn)}`, patientWith(mrn, 'First'));
      assert.equal(created.status, 201, created.text);
      assert.ok(created.body.id);
      const updated = await fhir.put(`Patient?${criteria(mrn)}`, patientWith(mrn, 'Second'));
      assert.equal(updated.status, 200, updated.text);
      assert.equal(updated.body.id, created.body.id);
      assert.notEqual(updated.body.meta.versionId, created.body.meta.versionId);
      assert.deepEqual(await matching(mrn), [created.body.id]);
      assert.equal((await fhir.get(`Patient/${created.body.id}`)).body.name[0].family, 'Second');
    });

    it('creates no new version when the matched resource already has that content', async () => {
      const mrn = unique('cu-same');
      const created = await fhir.put(`Patient?${criteria(mrn)}`, patientWith(mrn));
      const again = await fhir.put(`Patient?${criteria(mrn)}`, patientWith(mrn));
      assert.equal(again.status, 200, again.text);
      assert.equal(again.body.meta.versionId, created.body.meta.versionId);
    });

    it('answers 412 when the criteria match more than one resource, and changes neither', async () => {
      const mrn = unique('cu-multiple');
      const a = await fhir.create(patientWith(mrn, 'A'));
      const b = await fhir.create(patientWith(mrn, 'B'));
      assertOutcome(await fhir.put(`Patient?${criteria(mrn)}`, patientWith(mrn, 'Overwrite')), 412);
      assert.equal((await fhir.get(`Patient/${a.id}`)).body.name[0].family, 'A');
      assert.equal((await fhir.get(`Patient/${b.id}`)).body.name[0].family, 'B');
    });

    it('creates exactly one Patient when 10 identical conditional updates arrive at once', async () => {
      const mrn = unique('cu-concurrent');
      const responses = await Promise.all(Array.from({ length: 10 }, () => fhir.put(`Patient?${criteria(mrn)}`, patientWith(mrn))));
      const statuses = responses.map((r) => r.status);
      assert.ok(statuses.every((s) => s === 200 || s === 201), `statuses: ${statuses.join(',')}`);
      assert.equal((await matching(mrn)).length, 1);
    });
  });

  describe('DELETE /fhir/R4/:type?criteria', () => {
    it('deletes the single match', async () => {
      const mrn = unique('cd');
      const created = await fhir.create(patientWith(mrn));
      const res = await fhir.delete(`Patient?${criteria(mrn)}`);
      assert.ok([200, 204].includes(res.status), `${res.status} ${res.text}`);
      assert.equal((await fhir.get(`Patient/${created.id}`)).status, 410);
    });
  });
});
