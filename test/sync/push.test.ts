import assert from 'node:assert/strict';
import type { Basic, Communication, DiagnosticReport, ServiceRequest } from '@medplum/fhirtypes';
import { pullSync } from '../../src/sync/pull/pull-sync';
import { pushResults } from '../../src/sync/push/push-results';
import { PUSH_RECORD_ID_SYSTEM, RESULT_ID_SYSTEM, sourceIdSystem } from '../../src/sync/sync-identifiers';
import { readPushRecord } from '../../src/sync/sync-records';
import { readSyncStatus } from '../../src/sync/sync-status';
import { outcome } from './support/ehr-proxy';
import { EHR_MRN, seedEhrCases, startSyncFixture, type SeededCase, type SyncFixture } from './support/sync-fixture';

describe('sync push (results → referring EHR)', () => {
  let f: SyncFixture;
  let seeded: SeededCase;
  let report: DiagnosticReport & { id: string };

  before(async () => {
    f = await startSyncFixture();
    [seeded] = await seedEhrCases(f.ehrServer, 1, 'push');
    const { ehr } = await f.connect();
    const pulled = await pullSync({ ehr, store: f.store, ehrName: f.settings.name, mrnSystem: EHR_MRN });
    assert.equal(pulled.summary.failed, 0);
    const econsult = (await f.store.searchOne('ServiceRequest', `identifier=${sourceIdSystem(f.settings.name, 'ServiceRequest')}|${seeded.serviceRequest.id}`)) as ServiceRequest;
    const basedOn = [{ reference: `ServiceRequest/${econsult.id}` }];
    const subject = { reference: econsult.subject?.reference as string };
    report = await f.store.createResource<DiagnosticReport>({ resourceType: 'DiagnosticReport', status: 'final', code: { text: 'Dermatology e-consult report' }, subject, basedOn, conclusion: 'Seborrhoeic keratosis; benign.' });
    await f.store.createResource<Communication>({ resourceType: 'Communication', status: 'completed', subject, basedOn, payload: [{ contentString: 'Benign; no excision needed.' }] });
    await f.store.createResource<ServiceRequest>({ resourceType: 'ServiceRequest', status: 'active', intent: 'order', code: { text: 'Dermatology clinic referral' }, subject, basedOn });
  });

  after(async () => {
    await f.close();
  });

  const push = async (extra: Partial<Parameters<typeof pushResults>[0]> = {}) => {
    const { ehr } = await f.connect();
    return pushResults({ ehr, store: f.store, ehrName: f.settings.name, ...extra });
  };
  const onEhr = async (type: string, key: string) =>
    f.ehrServer.dermbridge.repo.searchResources({ resourceType: type, filters: [{ code: 'identifier', operator: 'eq', value: `${RESULT_ID_SYSTEM}|${key}` }] } as never);

  it('writes the report, the answer and the referral to the EHR against its own patient and order', async () => {
    const summary = await push();
    assert.deepEqual([summary.created, summary.failed], [3, 0], JSON.stringify(summary));
    const [written] = (await onEhr('DiagnosticReport', `DiagnosticReport/${report.id}`)) as DiagnosticReport[];
    assert.equal(written.subject?.reference, `Patient/${seeded.patient.id}`);
    assert.equal(written.basedOn?.[0].reference, `ServiceRequest/${seeded.serviceRequest.id}`);
    const record = await readPushRecord(f.store, f.settings.name, `DiagnosticReport/${report.id}`);
    assert.equal(record?.status, 'sent');
    assert.equal(record?.ehrReference, `DiagnosticReport/${written.id}`);
  });

  it('never writes a result twice, even when its push record is lost', async () => {
    assert.equal((await push()).unchanged, 3);
    const records = await f.store.searchResources('Basic', `identifier=${encodeURIComponent(`${PUSH_RECORD_ID_SYSTEM}|${f.settings.name}:DiagnosticReport/${report.id}`)}`);
    await f.store.deleteResource('Basic', (records[0] as Basic).id as string);
    const again = await push();
    assert.equal(again.created, 0);
    assert.equal(again.unchanged, 3);
    assert.equal((await onEhr('DiagnosticReport', `DiagnosticReport/${report.id}`)).length, 1);
  });

  it('records a failed push for the operator and retries it later', async () => {
    const second = await f.store.createResource<DiagnosticReport>({ ...report, id: undefined, meta: undefined, conclusion: 'Addendum' } as DiagnosticReport);
    f.proxy.inject({ match: (req) => req.method === 'POST' && req.originalUrl.endsWith('/DiagnosticReport'), times: 10, respond: outcome(503, 'EHR interface engine paused') });
    const failed = await push();
    assert.equal(failed.failed, 1);
    assert.match(failed.failures[0].reason, /HTTP 503/);
    const status = await readSyncStatus(f.store, f.settings.name);
    assert.equal(status.push.failed.length, 1);
    assert.equal(status.push.failed[0].result, `DiagnosticReport/${second.id}`);
    assert.ok(status.push.failed[0].nextAttemptAt);
    const deferred = await push();
    assert.match(deferred.failures[0].reason, /next attempt after/);
    f.proxy.clearFaults();
    const retried = await push({ retryNow: true });
    assert.equal(retried.created, 1);
    assert.equal((await readSyncStatus(f.store, f.settings.name)).push.failed.length, 0);
  });
});
