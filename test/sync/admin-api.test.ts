import assert from 'node:assert/strict';
import request from 'supertest';
import { seedEhrCases, startSyncFixture, type SyncFixture } from './support/sync-fixture';

describe('sync admin API (/admin/sync, /admin/bulk, /admin/keys)', () => {
  let f: SyncFixture;
  let ours: () => ReturnType<typeof request>;
  let admin: string;
  let ehrBody: Record<string, unknown>;

  before(async () => {
    f = await startSyncFixture();
    await seedEhrCases(f.ehrServer, 2, 'api');
    ours = () => request(f.ours.baseUrl.replace(/\/$/, ''));
    admin = await f.ours.adminToken();
    ehrBody = { ...f.settings };
  });
  after(async () => {
    await f.close();
  });

  it('refuses a request without a token (401) and one without the admin scope (403)', async () => {
    assert.equal((await ours().post('/admin/sync/pull').send({ ehr: ehrBody })).status, 401);
    const narrow = await f.ours.token({ scopes: ['system/Patient.rs'] });
    const res = await ours().post('/admin/sync/pull').set('Authorization', `Bearer ${narrow}`).send({ ehr: ehrBody });
    assert.equal(res.status, 403);
    assert.equal(res.body.code, 'forbidden');
  });

  it('POST /admin/sync/pull runs a pull and answers its summary; a dry run changes nothing', async () => {
    const dry = await ours().post('/admin/sync/pull').set('Authorization', `Bearer ${admin}`).send({ ehr: ehrBody, dryRun: true });
    assert.equal(dry.status, 200, dry.text);
    assert.equal(dry.body.summary.dryRun, true);
    assert.ok(dry.body.summary.created > 0);
    assert.equal((await f.store.searchResources('ServiceRequest')).length, 0);
    const res = await ours().post('/admin/sync/pull').set('Authorization', `Bearer ${admin}`).send({ ehr: ehrBody });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.summary.created, 10);
    assert.equal(res.body.serviceRequests, 2);
  });

  it('GET /admin/sync/status shows the checkpoint and the last run', async () => {
    const res = await ours().get(`/admin/sync/status?ehr=${f.settings.name}`).set('Authorization', `Bearer ${admin}`);
    assert.equal(res.status, 200);
    assert.ok(res.body.pull.checkpoint);
    assert.equal(res.body.pull.lastRun.created, 10);
  });

  it('answers bad EHR settings with a problem naming the field', async () => {
    const res = await ours().post('/admin/sync/pull').set('Authorization', `Bearer ${admin}`).send({ ehr: { ...ehrBody, fhirBaseUrl: 'ftp://x' } });
    assert.equal(res.status, 400);
    assert.match(res.body.detail, /fhirBaseUrl/);
  });

  it('POST /admin/bulk/import streams NDJSON in, GET /admin/bulk/export streams it out', async () => {
    const lines = [0, 1, 2].map((i) => JSON.stringify({ resourceType: 'Practitioner', id: `api-prac-${i}`, name: [{ family: `Doc${i}` }] }));
    const imported = await ours().post('/admin/bulk/import').set('Authorization', `Bearer ${admin}`).set('Content-Type', 'application/fhir+ndjson').send(lines.join('\n') + '\nnot json\n');
    assert.equal(imported.status, 207, 'some lines failed');
    assert.deepEqual([imported.body.summary.created, imported.body.summary.failed], [3, 1]);
    const exported = await ours().get('/admin/bulk/export?_type=Practitioner').set('Authorization', `Bearer ${admin}`).buffer(true).parse((res, done) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => done(null, text));
    });
    assert.equal(exported.status, 200);
    assert.match(exported.headers['content-type'], /ndjson/);
    const ids = (exported.body as string).split('\n').filter(Boolean).map((l) => JSON.parse(l).id as string);
    assert.deepEqual(ids.filter((id) => id.startsWith('api-prac-')).sort(), ['api-prac-0', 'api-prac-1', 'api-prac-2']);
  });

  it('POST /admin/bulk/export-from-ehr runs the EHR $export into the store', async () => {
    f.proxy.setExport(() => ({ files: { Practitioner: () => [JSON.stringify({ resourceType: 'Practitioner', id: 'from-ehr-1', name: [{ family: 'Exported' }] })] } }));
    const res = await ours().post('/admin/bulk/export-from-ehr').set('Authorization', `Bearer ${admin}`).send({ ehr: ehrBody, types: ['Practitioner'] });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.summary.created, 1);
    assert.ok(res.body.transactionTime);
    assert.equal((await f.store.readResource('Practitioner', 'from-ehr-1')).name?.[0].family, 'Exported');
  });
});
