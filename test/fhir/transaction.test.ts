/**
 * Transaction and batch Bundles posted to the FHIR base (http://hl7.org/fhir/R4/http.html#transaction):
 * reference rewriting, all-or-nothing transactions, conditional create inside them, and batches
 * whose entries succeed or fail on their own.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, Observation, Patient } from '@medplum/fhirtypes';
import request from 'supertest';
import { startTestServer, type TestServer } from '../support/test-server';
import { assertOutcome, fhirHttp, MRN, unique, type FhirHttp } from '../support/fhir-http';

const MARKER = 'urn:dermbridge:test:marker';

describe('POST /fhir/R4 (transaction and batch Bundles)', () => {
  let server: TestServer;
  let fhir: FhirHttp;

  before(async () => {
    server = await startTestServer();
    fhir = fhirHttp(server.baseUrl, await server.adminToken());
  });

  after(async () => {
    await server.close();
  });

  const bundle = (type: 'transaction' | 'batch', entry: BundleEntry[]): Bundle => ({ resourceType: 'Bundle', type, entry });

  const patientEntry = (mrn: string, fullUrl = `urn:uuid:${randomUUID()}`): BundleEntry => ({
    fullUrl,
    request: { method: 'POST', url: 'Patient' },
    resource: { resourceType: 'Patient', identifier: [{ system: MRN, value: mrn }], name: [{ family: 'Tx' }] } satisfies Patient,
  });

  const observationEntry = (marker: string, subject: string): BundleEntry => ({
    fullUrl: `urn:uuid:${randomUUID()}`,
    request: { method: 'POST', url: 'Observation' },
    resource: {
      resourceType: 'Observation',
      status: 'final',
      identifier: [{ system: MARKER, value: marker }],
      code: { text: 'lesion size' },
      subject: { reference: subject },
    } satisfies Observation,
  });

  const countPatients = async (mrn: string): Promise<number> =>
    (await fhir.search(`Patient?identifier=${encodeURIComponent(`${MRN}|${mrn}`)}`)).entry?.length ?? 0;
  const countObservations = async (marker: string): Promise<number> =>
    (await fhir.search(`Observation?identifier=${encodeURIComponent(`${MARKER}|${marker}`)}`)).entry?.length ?? 0;

  /** The server still answers reads and writes after a failed request. */
  const assertStillServing = async (): Promise<void> => {
    const health = await request(server.baseUrl.replace(/\/$/, '')).get('/healthcheck');
    assert.equal(health.status, 200);
    const mrn = unique('after');
    await fhir.create<Patient>({ resourceType: 'Patient', identifier: [{ system: MRN, value: mrn }] });
    assert.equal(await countPatients(mrn), 1);
  };

  describe('transaction', () => {
    it('creates every entry and rewrites urn:uuid references to the new ids', async () => {
      const mrn = unique('tx');
      const marker = unique('obs');
      const patient = patientEntry(mrn);
      const res = await fhir.post('', bundle('transaction', [patient, observationEntry(marker, patient.fullUrl as string), observationEntry(marker, patient.fullUrl as string)]));
      assert.equal(res.status, 200, res.text);
      const response = res.body as Bundle;
      assert.equal(response.type, 'transaction-response');
      assert.deepEqual(
        response.entry?.map((e) => e.response?.status.split(' ')[0]),
        ['201', '201', '201']
      );
      const patientId = response.entry?.[0].resource?.id as string;
      assert.ok(patientId);
      assert.match(response.entry?.[0].response?.location ?? '', new RegExp(`Patient/${patientId}`));
      for (const entry of response.entry?.slice(1) ?? []) {
        const read = await fhir.get(`Observation/${entry.resource?.id}`);
        assert.equal(read.status, 200);
        assert.equal(read.body.subject.reference, `Patient/${patientId}`);
      }
      const bySubject = await fhir.search(`Observation?subject=Patient/${patientId}`);
      assert.equal(bySubject.entry?.length, 2);
    });

    it('resolves a reference to an entry that comes later in the Bundle', async () => {
      const mrn = unique('tx-later');
      const marker = unique('obs');
      const patient = patientEntry(mrn);
      const res = await fhir.post('', bundle('transaction', [observationEntry(marker, patient.fullUrl as string), patient]));
      assert.equal(res.status, 200, res.text);
      const patientId = (res.body as Bundle).entry?.[1].resource?.id;
      const obs = await fhir.search<Observation>(`Observation?identifier=${encodeURIComponent(`${MARKER}|${marker}`)}`);
      assert.equal(obs.entry?.[0].resource?.subject?.reference, `Patient/${patientId}`);
    });

    it('leaves no trace of earlier entries when the last entry is a PUT with a mismatched id', async () => {
      const mrn = unique('rollback');
      const marker = unique('obs');
      const patient = patientEntry(mrn);
      const existingId = (await fhir.create<Patient>({ resourceType: 'Patient', name: [{ family: 'Existing' }] })).id;
      const res = await fhir.post(
        '',
        bundle('transaction', [
          patient,
          observationEntry(marker, patient.fullUrl as string),
          { request: { method: 'PUT', url: `Patient/${existingId}` }, resource: { resourceType: 'Patient', id: 'some-other-id', name: [{ family: 'Changed' }] } },
        ])
      );
      assert.ok(res.status >= 400 && res.status < 500, `${res.status} ${res.text}`);
      assert.equal(res.body.resourceType, 'OperationOutcome');
      assert.equal(await countPatients(mrn), 0);
      assert.equal(await countObservations(marker), 0);
      assert.equal((await fhir.get(`Patient/${existingId}`)).body.name[0].family, 'Existing');
      await assertStillServing();
    });

    it('leaves no trace of earlier entries when an update in it fails its If-Match precondition', async () => {
      const mrn = unique('rollback-412');
      const existing = await fhir.create<Patient>({ resourceType: 'Patient', name: [{ family: 'Versioned' }] });
      const res = await fhir.post(
        '',
        bundle('transaction', [
          patientEntry(mrn),
          {
            request: { method: 'PUT', url: `Patient/${existing.id}`, ifMatch: 'W/"not-the-current-version"' },
            resource: { ...existing, name: [{ family: 'Overwritten' }] },
          },
        ])
      );
      assert.ok(res.status >= 400 && res.status < 500, `${res.status} ${res.text}`);
      assert.equal(await countPatients(mrn), 0);
      assert.equal((await fhir.get(`Patient/${existing.id}`)).body.name[0].family, 'Versioned');
    });

    it('undoes an update made by an earlier entry when a later entry fails', async () => {
      const existing = await fhir.create<Patient>({ resourceType: 'Patient', name: [{ family: 'Before' }] });
      const res = await fhir.post(
        '',
        bundle('transaction', [
          { request: { method: 'PUT', url: `Patient/${existing.id}` }, resource: { ...existing, name: [{ family: 'After' }] } },
          { request: { method: 'DELETE', url: `Patient/${unique('missing')}` } },
          { request: { method: 'PUT', url: 'Patient/x' }, resource: { resourceType: 'Patient', id: 'y' } },
        ])
      );
      assert.ok(res.status >= 400 && res.status < 500, `${res.status} ${res.text}`);
      const read = await fhir.get(`Patient/${existing.id}`);
      assert.equal(read.body.name[0].family, 'Before');
      assert.equal(read.body.meta.versionId, existing.meta.versionId);
      const history = await fhir.get(`Patient/${existing.id}/_history`);
      assert.equal(history.body.entry.length, 1);
    });

    it('leaves no trace of earlier entries when the last entry is an invalid resource', async () => {
      const mrn = unique('rollback-invalid');
      const marker = unique('obs');
      const patient = patientEntry(mrn);
      const res = await fhir.post(
        '',
        bundle('transaction', [
          patient,
          observationEntry(marker, patient.fullUrl as string),
          // birthDate must be a FHIR date; gender must come from its value set.
          { request: { method: 'POST', url: 'Patient' }, resource: { resourceType: 'Patient', birthDate: 'last tuesday', gender: 'robot' } as unknown as Patient },
        ])
      );
      assertOutcome(res, 400);
      assert.equal(await countPatients(mrn), 0);
      assert.equal(await countObservations(marker), 0);
      await assertStillServing();
    });

    it('rejects a urn:uuid reference that no entry of the Bundle defines, and stores nothing', async () => {
      const mrn = unique('dangling');
      const marker = unique('obs');
      const res = await fhir.post(
        '',
        bundle('transaction', [patientEntry(mrn), observationEntry(marker, `urn:uuid:${randomUUID()}`)])
      );
      assertOutcome(res, 400);
      assert.equal(await countPatients(mrn), 0);
      assert.equal(await countObservations(marker), 0);
    });

    it('rejects a reference to a resource the store does not hold, naming the element, and stores nothing', async () => {
      const mrn = unique('missing-target');
      const marker = unique('obs');
      const res = await fhir.post('', bundle('transaction', [patientEntry(mrn), observationEntry(marker, `Patient/${randomUUID()}`)]));
      assertOutcome(res, 400);
      assert.deepEqual((res.body as { issue: { expression?: string[] }[] }).issue[0].expression, ['Observation.subject']);
      assert.equal(await countPatients(mrn), 0);
      assert.equal(await countObservations(marker), 0);
    });

    it('creates a Patient only once when ifNoneExist names the same identifier in two transactions', async () => {
      const mrn = unique('tx-conditional');
      const conditional = (): Bundle =>
        bundle('transaction', [
          { ...patientEntry(mrn), request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${MRN}|${mrn}` } },
        ]);
      const first = await fhir.post('', conditional());
      assert.equal(first.status, 200, first.text);
      assert.equal((first.body as Bundle).entry?.[0].response?.status.split(' ')[0], '201');
      const second = await fhir.post('', conditional());
      assert.equal(second.status, 200, second.text);
      assert.equal((second.body as Bundle).entry?.[0].response?.status.split(' ')[0], '200');
      assert.equal((second.body as Bundle).entry?.[0].resource?.id, (first.body as Bundle).entry?.[0].resource?.id);
      assert.equal(await countPatients(mrn), 1);
    });

    it('points references at the existing Patient when a conditional create matched', async () => {
      const mrn = unique('tx-conditional-ref');
      const existing = await fhir.create<Patient>({ resourceType: 'Patient', identifier: [{ system: MRN, value: mrn }] });
      const marker = unique('obs');
      const patient = { ...patientEntry(mrn), request: { method: 'POST' as const, url: 'Patient', ifNoneExist: `identifier=${MRN}|${mrn}` } };
      const res = await fhir.post('', bundle('transaction', [patient, observationEntry(marker, patient.fullUrl as string)]));
      assert.equal(res.status, 200, res.text);
      const obs = await fhir.search<Observation>(`Observation?identifier=${encodeURIComponent(`${MARKER}|${marker}`)}`);
      assert.equal(obs.entry?.[0].resource?.subject?.reference, `Patient/${existing.id}`);
      assert.equal(await countPatients(mrn), 1);
    });
  });

  describe('batch', () => {
    it('keeps the entries that succeeded and reports the one that failed', async () => {
      const first = unique('batch-a');
      const third = unique('batch-c');
      const res = await fhir.post(
        '',
        bundle('batch', [
          patientEntry(first),
          { request: { method: 'PUT', url: 'Patient/abc' }, resource: { resourceType: 'Patient', id: 'xyz' } },
          patientEntry(third),
        ])
      );
      assert.equal(res.status, 200, res.text);
      const response = res.body as Bundle;
      assert.equal(response.type, 'batch-response');
      const statuses = response.entry?.map((e) => Number(e.response?.status.split(' ')[0]));
      assert.equal(statuses?.[0], 201);
      assert.ok((statuses?.[1] ?? 0) >= 400 && (statuses?.[1] ?? 0) < 500, `failed entry status ${statuses?.[1]}`);
      assert.equal(statuses?.[2], 201);
      assert.equal(response.entry?.[1].response?.outcome?.resourceType, 'OperationOutcome');
      assert.equal(await countPatients(first), 1);
      assert.equal(await countPatients(third), 1);
      assert.equal((await fhir.get('Patient/abc')).status, 404);
    });
  });

  describe('malformed Bundles', () => {
    it('answers 400 to a Bundle that is neither a transaction nor a batch', async () => {
      const mrn = unique('collection');
      const res = await fhir.post('', { resourceType: 'Bundle', type: 'collection', entry: [patientEntry(mrn)] });
      assertOutcome(res, 400);
      assert.equal(await countPatients(mrn), 0);
    });

    it('answers 400 to a transaction entry without a request', async () => {
      const mrn = unique('no-request');
      const { request: _omitted, ...entry } = patientEntry(mrn);
      const earlierMrn = unique('earlier');
      const res = await fhir.post('', bundle('transaction', [patientEntry(earlierMrn), entry]));
      assert.ok(res.status >= 400 && res.status < 500, `${res.status} ${res.text}`);
      assert.equal(await countPatients(earlierMrn), 0);
      assert.equal(await countPatients(mrn), 0);
    });
  });
});
