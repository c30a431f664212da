import assert from 'node:assert/strict';
import type { Patient, ServiceRequest } from '@medplum/fhirtypes';
import { pullSync, PULL_STREAM } from '../../src/sync/pull/pull-sync';
import { readCheckpoint } from '../../src/sync/sync-records';
import { sourceIdSystem } from '../../src/sync/sync-identifiers';
import { EHR_MRN, seedEhrCases, startSyncFixture, type SyncFixture } from './support/sync-fixture';

describe('sync pull (EHR → store)', () => {
  let f: SyncFixture;

  before(async () => {
    f = await startSyncFixture();
    await seedEhrCases(f.ehrServer, 5);
  });

  after(async () => {
    await f.close();
  });

  const pull = async (extra: Partial<Parameters<typeof pullSync>[0]> = {}) => {
    const { ehr } = await f.connect();
    return pullSync({ ehr, store: f.store, ehrName: f.settings.name, mrnSystem: EHR_MRN, pageSize: 2, ...extra });
  };

  it('creates every case with its patient and context on the first run', async () => {
    const { summary, serviceRequests, pages } = await pull();
    assert.equal(summary.failed, 0, JSON.stringify(summary.failures));
    assert.equal(summary.aborted, undefined);
    assert.equal(serviceRequests, 5);
    assert.equal(pages, 3);
    // 5 × (Patient, Condition, MedicationStatement, AllergyIntolerance, ServiceRequest)
    assert.equal(summary.created, 25);
    const patient = await f.store.searchOne('Patient', `identifier=${EHR_MRN}|mrn-3`);
    assert.ok(patient);
    const sr = (await f.store.searchOne('ServiceRequest', `subject=Patient/${patient.id}`)) as ServiceRequest;
    assert.equal(sr.requester?.reference, undefined, 'the unsynced Practitioner becomes a logical reference');
    assert.equal(sr.requester?.display, 'Dr Referrer');
    assert.match(sr.reasonReference?.[0].reference ?? '', /^Condition\//);
  });

  it('changes nothing when run again', async () => {
    const before = await f.store.searchResources('Patient', `identifier=${EHR_MRN}|mrn-0`);
    const { summary } = await pull();
    assert.equal(summary.created + summary.updated, 0, JSON.stringify(summary));
    assert.equal(summary.failed, 0);
    const after = (await f.store.searchResources('Patient', `identifier=${EHR_MRN}|mrn-0`)) as Patient[];
    assert.equal(after[0].meta?.versionId, before[0].meta?.versionId);
  });

  it('resumes from the stored checkpoint and updates only what changed', async () => {
    const checkpoint = await readCheckpoint(f.store, f.settings.name, PULL_STREAM);
    assert.ok(checkpoint.since);
    const [changed] = await f.ehrServer.dermbridge.repo.searchResources<ServiceRequest>({ resourceType: 'ServiceRequest', count: 1 } as never);
    await f.ehrServer.dermbridge.repo.updateResource({ ...changed, priority: 'urgent' });
    f.proxy.requests.length = 0;
    const { summary } = await pull();
    const first = f.proxy.requests.find((r) => r.url.includes('/ServiceRequest?'));
    assert.match(decodeURIComponent(first?.url ?? ''), new RegExp(`_lastUpdated=ge${checkpoint.since}`));
    assert.equal(summary.updated, 1, JSON.stringify(summary));
    assert.equal(summary.created, 0);
    const stored = await f.store.searchOne('ServiceRequest', `identifier=${sourceIdSystem(f.settings.name, 'ServiceRequest')}|${changed.id}`);
    assert.equal((stored as ServiceRequest).priority, 'urgent');
  });
});
