/**
 * The CapabilityStatement must tell the truth (http://hl7.org/fhir/R4/capabilitystatement.html):
 * every search parameter and include value it advertises is accepted by search.
 */
import assert from 'node:assert/strict';
import type { CapabilityStatement, CapabilityStatementRestResource } from '@medplum/fhirtypes';
import request from 'supertest';
import { startTestServer, type TestServer } from '../support/test-server';
import { fhirHttp, type FhirHttp } from '../support/fhir-http';

/** A syntactically valid search value for each search parameter type. */
const SAMPLE_VALUE: Record<string, string> = {
  token: 'x',
  string: 'x',
  date: 'ge2020-01-01',
  reference: 'Patient/x',
  number: '1',
  quantity: '1',
  uri: 'http://example.org/x',
};

const CHECKED_TYPES = ['Patient', 'Observation', 'Encounter', 'Condition', 'DocumentReference', 'Media', 'Task', 'QuestionnaireResponse', 'Practitioner'];

describe('GET /fhir/R4/metadata', () => {
  let server: TestServer;
  let fhir: FhirHttp;
  let capability: CapabilityStatement;

  before(async () => {
    server = await startTestServer();
    fhir = fhirHttp(server.baseUrl, await server.adminToken());
    const res = await request(server.baseUrl.replace(/\/$/, '')).get('/fhir/R4/metadata');
    assert.equal(res.status, 200);
    capability = JSON.parse(res.text) as CapabilityStatement;
  });

  after(async () => {
    await server.close();
  });

  const resourceEntry = (type: string): CapabilityStatementRestResource => {
    const entry = capability.rest?.[0].resource?.find((r) => r.type === type);
    assert.ok(entry, `${type} is not in the CapabilityStatement`);
    return entry;
  };

  it('is an R4 CapabilityStatement for this server', () => {
    assert.equal(capability.resourceType, 'CapabilityStatement');
    assert.equal(capability.fhirVersion, '4.0.1');
    assert.equal(capability.implementation?.url, `${server.baseUrl}fhir/R4`);
  });

  for (const type of CHECKED_TYPES) {
    it(`accepts every search parameter it advertises for ${type}`, async () => {
      const refused: string[] = [];
      for (const param of resourceEntry(type).searchParam ?? []) {
        const value = SAMPLE_VALUE[param.type as string];
        if (value === undefined) {
          continue;
        }
        const res = await fhir.get(`${type}?${param.name}=${encodeURIComponent(value)}&_count=1`);
        if (res.status !== 200) {
          refused.push(`${param.name} (${param.type}): ${res.status}`);
        }
      }
      assert.deepEqual(refused, []);
    });
  }

  it('accepts the _include and _revinclude values it advertises', async () => {
    const patient = resourceEntry('Patient');
    for (const value of patient.searchInclude ?? []) {
      const res = await fhir.get(`Patient?_include=${encodeURIComponent(value)}`);
      assert.equal(res.status, 200, `_include=${value}: ${res.text}`);
    }
    for (const value of patient.searchRevInclude ?? []) {
      const res = await fhir.get(`Patient?_revinclude=${encodeURIComponent(value)}`);
      assert.equal(res.status, 200, `_revinclude=${value}: ${res.text}`);
    }
  });
});
