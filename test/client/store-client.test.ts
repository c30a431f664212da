import type { MedplumClient } from '@medplum/core';
import type { Bundle, Observation, Patient } from '@medplum/fhirtypes';
import { strict as assert } from 'node:assert';
import type { Client } from 'fhir-kit-client';
import { connectStoreClient, storeConnection } from '../../src/client/store-client';
import { loadConfig } from '../../src/config/load-config';
import type { TestServer } from '../support/test-server';
import { startTestServer } from '../support/test-server';

const MRN = 'urn:oid:1.2.36.146.595.217.0.1';

describe('store client (MedplumClient over HTTP against the embedded server)', () => {
  let server: TestServer;
  let medplum: MedplumClient;

  before(async () => {
    server = await startTestServer();
    medplum = await connectStoreClient(storeConnection(server.dermbridge.config));
  });

  after(async () => {
    await server.close();
  });

  it('logs in with the demo client credentials and gets a usable access token', async () => {
    assert.ok(medplum.getAccessToken());
    const profile = medplum.getProfile();
    assert.equal(profile?.resourceType, 'ClientApplication');
  });

  it('creates, reads and searches a Patient by identifier', async () => {
    const created = await medplum.createResource<Patient>({
      resourceType: 'Patient',
      identifier: [{ system: MRN, value: 'mc-1' }],
      name: [{ family: 'Okoye', given: ['Ngozi'] }],
    });
    const read = await medplum.readResource('Patient', created.id);
    assert.equal(read.name?.[0].family, 'Okoye');
    const found = await medplum.searchOne('Patient', { identifier: `${MRN}|mc-1` });
    assert.equal(found?.id, created.id);
  });

  it('createResourceIfNoneExist twice returns the same Patient and stores one', async () => {
    const patient: Patient = { resourceType: 'Patient', identifier: [{ system: MRN, value: 'mc-2' }] };
    const first = await medplum.createResourceIfNoneExist(patient, `identifier=${MRN}|mc-2`);
    const second = await medplum.createResourceIfNoneExist(patient, `identifier=${MRN}|mc-2`);
    assert.equal(second.id, first.id);
    const all = await medplum.searchResources('Patient', { identifier: `${MRN}|mc-2` });
    assert.equal(all.length, 1);
  });

  it('executes a transaction bundle with urn:uuid references', async () => {
    const patientUrn = 'urn:uuid:3f1e7a52-8c4d-4f7e-9a51-2b1c0d9e8f77';
    const result = await medplum.executeBatch({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: patientUrn, request: { method: 'POST', url: 'Patient' }, resource: { resourceType: 'Patient', identifier: [{ system: MRN, value: 'mc-3' }] } },
        {
          request: { method: 'POST', url: 'Observation' },
          resource: { resourceType: 'Observation', status: 'final', code: { text: 'lesion diameter' }, subject: { reference: patientUrn } },
        },
      ],
    });
    assert.deepEqual(result.entry?.map((e) => e.response?.status), ['201', '201']);
    const observation = (await medplum.readReference({ reference: result.entry?.[1].response?.location?.split('/_history')[0] })) as Observation;
    assert.match(observation.subject?.reference ?? '', /^Patient\/[0-9a-f-]{36}$/);
  });

  it('uploads a photo as a Binary and downloads the same bytes', async () => {
    const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4, 5]);
    const binary = await medplum.createBinary({ data: bytes, contentType: 'image/png' });
    const blob = await medplum.download(binary.url as string);
    assert.deepEqual(Buffer.from(await blob.arrayBuffer()), bytes);
  });
});

describe('store client (fhir-kit-client over HTTP against the embedded server)', () => {
  let server: TestServer;
  let client: Client;
  // fhir-kit-client 2 is ESM-only (its package exports only an `import` condition).
  let FhirKitClient: typeof Client;

  before(async () => {
    server = await startTestServer();
    FhirKitClient = (await import('fhir-kit-client')).Client;
    client = new FhirKitClient({ baseUrl: `${server.baseUrl}fhir/R4`, bearerToken: await server.adminToken() });
  });

  after(async () => {
    await server.close();
  });

  it('creates, reads, updates and searches through the FHIR REST API', async () => {
    const created = (await client.create({
      resourceType: 'Patient',
      body: { resourceType: 'Patient', identifier: [{ system: MRN, value: 'fk-1' }], gender: 'female' },
    })) as Patient;
    const read = (await client.read({ resourceType: 'Patient', id: created.id as string })) as Patient;
    assert.equal(read.gender, 'female');
    const updated = (await client.update({ resourceType: 'Patient', id: read.id as string, body: { ...read, gender: 'other' } })) as Patient;
    assert.notEqual(updated.meta?.versionId, read.meta?.versionId);
    const bundle = (await client.search({ resourceType: 'Patient', searchParams: { identifier: `${MRN}|fk-1` } })) as unknown as Bundle<Patient>;
    assert.equal(bundle.entry?.length, 1);
    assert.equal(bundle.entry?.[0].resource?.gender, 'other');
  });

  it('reads the CapabilityStatement without a token', async () => {
    const anonymous = new FhirKitClient({ baseUrl: `${server.baseUrl}fhir/R4` });
    const capability = (await anonymous.capabilityStatement()) as unknown as { fhirVersion: string };
    assert.equal(capability.fhirVersion, '4.0.1');
  });

  it('is refused with 401 and an OperationOutcome without a token', async () => {
    const anonymous = new FhirKitClient({ baseUrl: `${server.baseUrl}fhir/R4` });
    await assert.rejects(anonymous.read({ resourceType: 'Patient', id: 'x' }), (err: { response?: { status: number; data?: { resourceType?: string } } }) => {
      assert.equal(err.response?.status, 401);
      assert.equal(err.response?.data?.resourceType, 'OperationOutcome');
      return true;
    });
  });
});

describe('storeConnection', () => {
  it('points at a real Medplum server when MEDPLUM_BASE_URL is configured', () => {
    const config = loadConfig({ MEDPLUM_BASE_URL: 'https://medplum.example.org', MEDPLUM_CLIENT_ID: 'id', MEDPLUM_CLIENT_SECRET: 's' });
    assert.deepEqual(storeConnection(config), { baseUrl: 'https://medplum.example.org/', clientId: 'id', clientSecret: 's' });
  });

  it('refuses a Medplum URL without client credentials', () => {
    assert.throws(() => loadConfig({ MEDPLUM_BASE_URL: 'https://medplum.example.org' }), /MEDPLUM_CLIENT_ID/);
  });
});
