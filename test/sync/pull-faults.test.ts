import assert from 'node:assert/strict';
import type { Bundle, ServiceRequest } from '@medplum/fhirtypes';
import { exportJWK, generateKeyPair } from 'jose';
import { pullSync, PULL_STREAM } from '../../src/sync/pull/pull-sync';
import { readCheckpoint } from '../../src/sync/sync-records';
import { sourceIdSystem } from '../../src/sync/sync-identifiers';
import { outcome } from './support/ehr-proxy';
import { EHR_MRN, seedEhrCases, startSyncFixture, SYNC_CLIENT_ID, type SyncFixture } from './support/sync-fixture';

const isServiceRequestSearch = (req: { method: string; originalUrl: string }): boolean => req.method === 'GET' && req.originalUrl.includes('/ServiceRequest?');

describe('sync pull: crashes and bad EHR input', () => {
  let f: SyncFixture;
  const CASES = 7;

  before(async () => {
    f = await startSyncFixture({ alg: 'RS384' });
    await seedEhrCases(f.ehrServer, CASES, 'fault');
  });

  after(async () => {
    await f.close();
  });

  afterEach(() => {
    f.proxy.clearFaults();
  });

  const pull = async (extra: Partial<Parameters<typeof pullSync>[0]> = {}) => {
    const { ehr } = await f.connect();
    return pullSync({ ehr, store: f.store, ehrName: f.settings.name, mrnSystem: EHR_MRN, pageSize: 2, ...extra });
  };
  const storedServiceRequests = async (): Promise<number> =>
    (await f.store.searchResources('ServiceRequest', `identifier=${sourceIdSystem(f.settings.name, 'ServiceRequest')}|&_count=100`)).length;

  it('resumes after a kill mid-sync from the last checkpoint, without duplicates', async () => {
    const killed = await pull({ stopAfterPages: 2 });
    assert.equal(killed.complete, false);
    assert.equal(killed.pages, 2);
    assert.equal(killed.serviceRequests, 4);
    const checkpoint = await readCheckpoint(f.store, f.settings.name, PULL_STREAM);
    assert.equal(checkpoint.since, killed.checkpoint);
    f.proxy.requests.length = 0;
    const resumed = await pull();
    assert.equal(resumed.summary.aborted, undefined);
    assert.equal(resumed.summary.failed, 0, JSON.stringify(resumed.summary.failures));
    assert.ok(resumed.serviceRequests < CASES, `resumed run re-read ${resumed.serviceRequests} of ${CASES}`);
    assert.match(decodeURIComponent(f.proxy.requests.find((r) => r.url.includes('/ServiceRequest?'))?.url ?? ''), /_lastUpdated=ge/);
    assert.equal(await storedServiceRequests(), CASES);
    assert.equal((await pull()).summary.created, 0);
  });

  it('backs off and carries on when the EHR answers 429 and 503', async () => {
    f.proxy.inject({ match: isServiceRequestSearch, times: 2, respond: (_req, res) => res.status(429).setHeader('Retry-After', '0').json({}) });
    f.proxy.inject({ match: (req) => req.originalUrl.includes('/Condition?'), times: 2, respond: outcome(503, 'down for maintenance') });
    f.proxy.requests.length = 0;
    const { summary } = await pull();
    assert.equal(summary.aborted, undefined);
    assert.equal(summary.failed, 0, JSON.stringify(summary.failures));
    assert.equal(f.proxy.requests.filter((r) => r.status === 429).length, 2);
    assert.equal(f.proxy.requests.filter((r) => r.status === 503).length, 2);
  });

  it('stops with a clear reason on malformed JSON, keeping the checkpoint', async () => {
    const before = await readCheckpoint(f.store, f.settings.name, PULL_STREAM);
    f.proxy.inject({ match: isServiceRequestSearch, respond: (_req, res) => res.status(200).type('application/fhir+json').send('{"resourceType":"Bundle",') });
    const { summary } = await pull();
    assert.match(summary.aborted ?? '', /not JSON/);
    assert.equal((await readCheckpoint(f.store, f.settings.name, PULL_STREAM)).since, before.since);
  });

  it('reports the diagnostics of an OperationOutcome', async () => {
    f.proxy.inject({ match: isServiceRequestSearch, respond: outcome(400, 'Unknown search parameter "bogus"') });
    const { summary } = await pull();
    assert.match(summary.aborted ?? '', /Unknown search parameter "bogus"/);
  });

  it('detects pages that loop back', async () => {
    await f.ehrServer.dermbridge.repo.createResource<ServiceRequest>({
      resourceType: 'ServiceRequest',
      status: 'active',
      intent: 'order',
      subject: { reference: `Patient/${(await f.ehrServer.dermbridge.repo.searchResources({ resourceType: 'Patient', count: 1 } as never))[0].id}` },
    });
    // Every page's next link points back at the first page.
    let first: string | undefined;
    f.proxy.inject({
      match: isServiceRequestSearch,
      times: 10,
      transform: (body) => {
        const bundle = body as unknown as Bundle;
        const self = bundle.link?.find((l) => l.relation === 'self')?.url;
        first ??= self;
        return { ...bundle, link: [...(bundle.link ?? []).filter((l) => l.relation !== 'next'), { relation: 'next', url: first }] };
      },
    });
    const { summary } = await pull({ pageSize: 1 });
    assert.match(summary.aborted ?? '', /paging loops/);
  });

  it('reports a resource that fails validation, skips it, and syncs the rest', async () => {
    const patient = (await f.ehrServer.dermbridge.repo.searchResources({ resourceType: 'Patient', count: 1 } as never))[0];
    await f.ehrServer.dermbridge.repo.createResource<ServiceRequest>({ resourceType: 'ServiceRequest', status: 'active', intent: 'order', subject: { reference: `Patient/${patient.id}` }, note: [{ text: 'new one' }] });
    // The EHR sends a Condition whose clinicalStatus is not in the required value set.
    f.proxy.inject({
      match: (req) => req.originalUrl.includes('/Condition?'),
      transform: (body) => {
        const bundle = body as unknown as Bundle;
        const entry = bundle.entry?.[0];
        if (entry?.resource) {
          (entry.resource as { clinicalStatus?: unknown }).clinicalStatus = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'sort-of' }] };
        }
        return bundle;
      },
    });
    const { summary } = await pull();
    assert.equal(summary.aborted, undefined);
    assert.equal(summary.failed, 1, JSON.stringify(summary.failures));
    assert.match(summary.failures[0].item, /^Condition\//);
    assert.match(summary.failures[0].reason, /clinicalStatus|sort-of/);
    assert.ok(summary.created >= 1, 'the new ServiceRequest still synced');
  });

  it('fails with a clear error when the EHR no longer accepts our key', async () => {
    const { publicKey } = await generateKeyPair('RS384');
    f.ehrServer.dermbridge.auth.clients.registerClient({
      clientId: SYNC_CLIENT_ID,
      scopes: ['system/*.cruds'],
      jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'someone-else', alg: 'RS384' }] },
    });
    try {
      const { summary } = await pull();
      assert.match(summary.aborted ?? '', /refused the sync client's credentials \(invalid_client/);
      assert.match(summary.aborted ?? '', /revoked/);
    } finally {
      f.ehrServer.dermbridge.auth.clients.registerClient({ clientId: SYNC_CLIENT_ID, scopes: ['system/*.cruds'], jwksUri: f.jwksUrl });
    }
  });
});
