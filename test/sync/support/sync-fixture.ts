/**
 * Two real servers on loopback: "ours" (the dermbridge case store, hosting our sync JWKS at
 * /.well-known/sync-jwks.json) and a second embedded dermbridge playing the EHR, behind a
 * fault-injecting proxy. Our sync client is registered at the EHR with that JWKS URL, exactly as
 * an interface engineer registers it at Epic.
 */
import type { MedplumClient } from '@medplum/core';
import type { AllergyIntolerance, Condition, MedicationStatement, Patient, Practitioner, ServiceRequest } from '@medplum/fhirtypes';
import { connectStoreClient, storeConnection } from '../../../src/client/store-client';
import { generateSyncKeys, syncKeysPath } from '../../../src/sync/backend-services/sync-keys';
import { connectEhr, parseEhrSettings, type EhrConnection, type EhrSettings } from '../../../src/sync/ehr-settings';
import { startTestServer, type TestServer } from '../../support/test-server';
import { startEhrProxy, type EhrProxy } from './ehr-proxy';

export const EHR_MRN = 'urn:oid:1.2.840.114350.1.13.0.1.7.5.737384.14';
export const SYNC_CLIENT_ID = 'dermbridge-sync';
export const FAST_RETRY = { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 20 };

export interface SyncFixture {
  readonly ours: TestServer;
  readonly ehrServer: TestServer;
  readonly proxy: EhrProxy;
  readonly store: MedplumClient;
  readonly settings: EhrSettings;
  readonly jwksUrl: string;
  /** A fresh EHR connection (new token cache). */
  connect(overrides?: Partial<EhrSettings>): Promise<EhrConnection>;
  close(): Promise<void>;
}

export async function startSyncFixture(options: { alg?: 'RS384' | 'ES384' } = {}): Promise<SyncFixture> {
  const ours = await startTestServer();
  await generateSyncKeys(syncKeysPath(ours.dataDir));
  const ehrServer = await startTestServer();
  const proxy = await startEhrProxy(ehrServer.baseUrl);
  const jwksUrl = `${ours.baseUrl}.well-known/sync-jwks.json`;
  ehrServer.dermbridge.auth.clients.registerClient({ clientId: SYNC_CLIENT_ID, name: 'dermbridge sync', scopes: ['system/*.cruds'], jwksUri: jwksUrl });
  const settings = parseEhrSettings({
    name: 'test-ehr',
    fhirBaseUrl: proxy.fhirBaseUrl,
    clientId: SYNC_CLIENT_ID,
    mrnSystem: EHR_MRN,
    scope: 'system/*.cruds',
    alg: options.alg ?? 'ES384',
    // Discovery at the EHR itself: the token audience is the EHR's own token endpoint.
    tokenEndpoint: `${ehrServer.baseUrl}oauth2/token`,
  });
  const store = await connectStoreClient(storeConnection(ours.dermbridge.config));
  return {
    ours,
    ehrServer,
    proxy,
    store,
    settings,
    jwksUrl,
    connect: (overrides = {}) => connectEhr({ ...settings, ...overrides }, ours.dataDir, { retry: FAST_RETRY }),
    async close() {
      await proxy.close();
      await ehrServer.close();
      await ours.close();
    },
  };
}

export interface SeededCase {
  readonly patient: Patient & { id: string };
  readonly serviceRequest: ServiceRequest & { id: string };
}

/** `count` e-consult cases on the EHR: each a Patient (with MRN), a Condition, an allergy, a medication and the ServiceRequest. */
export async function seedEhrCases(ehr: TestServer, count: number, prefix = 'mrn'): Promise<SeededCase[]> {
  const repo = ehr.dermbridge.repo;
  const pcp = await repo.createResource<Practitioner>({ resourceType: 'Practitioner', name: [{ family: 'Referrer', given: ['Pat'] }] });
  const cases: SeededCase[] = [];
  for (let i = 0; i < count; i++) {
    const patient = await repo.createResource<Patient>({
      resourceType: 'Patient',
      identifier: [{ system: EHR_MRN, value: `${prefix}-${i}` }],
      name: [{ family: `Family${i}`, given: ['Given'] }],
      birthDate: '1980-01-01',
      generalPractitioner: [{ reference: `Practitioner/${pcp.id}` }],
    });
    const subject = { reference: `Patient/${patient.id}` };
    const condition = await repo.createResource<Condition>({
      resourceType: 'Condition',
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
      code: { text: 'Atopic dermatitis' },
      subject,
    });
    await repo.createResource<AllergyIntolerance>({
      resourceType: 'AllergyIntolerance',
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
      patient: subject,
      code: { text: 'Penicillin' },
    });
    await repo.createResource<MedicationStatement>({ resourceType: 'MedicationStatement', status: 'active', subject, medicationCodeableConcept: { text: 'Hydrocortisone 1% cream' } });
    const serviceRequest = await repo.createResource<ServiceRequest>({
      resourceType: 'ServiceRequest',
      status: 'active',
      intent: 'order',
      code: { text: 'Dermatology e-consult' },
      subject,
      requester: { reference: `Practitioner/${pcp.id}`, display: 'Dr Referrer' },
      reasonReference: [{ reference: `Condition/${condition.id}` }],
    });
    cases.push({ patient, serviceRequest });
  }
  return cases;
}
