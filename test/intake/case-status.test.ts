import type { Bundle, Communication, ServiceRequest, Task } from '@medplum/fhirtypes';
import assert from 'node:assert/strict';
import request from 'supertest';
import { jpegWithGps, skinPhoto } from '../images/photo-fixtures';
import { startTestServer, type TestServer } from '../support/test-server';
import { intakeResponse, threePhotos } from './intake-fixtures';
import { adminGet, adminWrite, countAll, newPatientToken, submit } from './intake-http';

describe('GET /intake/cases/:id and POST /intake/cases/:id/photos', () => {
  let server: TestServer;
  let alice: { id: string; token: string };
  let bob: { id: string; token: string };
  let caseId: string;

  before(async () => {
    server = await startTestServer();
    alice = await newPatientToken(server, 'Alice');
    bob = await newPatientToken(server, 'Bob');
    const [a, b, c] = await threePhotos();
    const res = await submit(server, alice.token, { questionnaireResponse: intakeResponse() }, { overview: a, close1: b, close2: c });
    assert.equal(res.status, 201, res.text);
    caseId = res.body.caseId;
  });
  after(async () => server.close());

  const get = (id: string, token: string) => request(server.baseUrl).get(`intake/cases/${id}`).set('Authorization', `Bearer ${token}`);
  const addPhoto = (id: string, token: string, bytes: Buffer, fields: Record<string, string>) => {
    const req = request(server.baseUrl).post(`intake/cases/${id}/photos`).set('Authorization', `Bearer ${token}`);
    for (const [k, v] of Object.entries(fields)) req.field(k, v);
    return req.attach('retake', bytes, 'retake.jpg');
  };

  it('shows the submitter their case, its status, photos with quality, and only the messages addressed to them', async () => {
    const about = [{ reference: `ServiceRequest/${caseId}` }];
    const pcp = await adminWrite(server, 'post', 'Practitioner', { resourceType: 'Practitioner', name: [{ family: 'Gp' }] });
    await adminWrite<Communication>(server, 'post', 'Communication', {
      resourceType: 'Communication', status: 'completed', basedOn: about, subject: { reference: `Patient/${alice.id}` },
      recipient: [{ reference: `Patient/${alice.id}` }], sent: new Date().toISOString(), payload: [{ contentString: 'Please send a close-up with a ruler beside the mole.' }],
    });
    await adminWrite<Communication>(server, 'post', 'Communication', {
      resourceType: 'Communication', status: 'completed', basedOn: about, subject: { reference: `Patient/${alice.id}` },
      recipient: [{ reference: `Practitioner/${pcp.id}` }], payload: [{ contentString: 'Internal note for the PCP' }],
    });
    const res = await get(caseId, alice.token);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.status, 'requested');
    assert.equal(res.body.businessStatus.code, 'received');
    assert.equal(res.body.photos.length, 3);
    assert.ok(res.body.photos.every((p: { thumbnail?: string; quality?: { focusVariance?: number } }) => p.thumbnail && typeof p.quality?.focusVariance === 'number'));
    assert.deepEqual(res.body.messages.map((m: { text: string }) => m.text), ['Please send a close-up with a ruler beside the mole.']);
  });

  it("answers another patient's case id with 404, the same as a case that does not exist", async () => {
    const res = await get(caseId, bob.token);
    assert.equal(res.status, 404, res.text);
    assert.equal(JSON.parse(res.text).code, 'case-not-found');
    const missing = await get('no-such-case', bob.token);
    assert.equal(JSON.parse(missing.text).code, 'case-not-found');
  });

  it("refuses photos for another patient's case and stores nothing", async () => {
    const before = await countAll(server);
    const res = await addPhoto(caseId, bob.token, await skinPhoto({ seed: 7 }), { 'retake.view': 'close-up', 'retake.bodySite': '66643007' });
    assert.equal(res.status, 404, res.text);
    assert.equal(JSON.parse(res.text).code, 'case-not-found');
    assert.deepEqual(await countAll(server), before);
  });

  it('adds a retaken photo to the case, stripped and measured, and hands a Task waiting for photos back to the reviewer', async () => {
    const reviewer = await adminWrite(server, 'post', 'Practitioner', { resourceType: 'Practitioner', name: [{ family: 'Derm' }] });
    const tasks = await adminGet<Bundle<Task>>(server, `Task?focus=ServiceRequest/${caseId}`);
    let task = tasks.entry?.[0]?.resource as Task;
    const status = (s: Task['status'], code: string) => ({ status: s, businessStatus: { coding: [{ system: 'https://dermbridge.example.org/fhir/CodeSystem/econsult-business-status', code }] } });
    for (const [s, code] of [['accepted', 'accepted'], ['in-progress', 'under-review'], ['on-hold', 'awaiting-patient-photos']] as const) {
      task = await adminWrite<Task>(server, 'put', `Task/${task.id}`, { ...task, ...status(s, code), owner: { reference: `Practitioner/${reviewer.id}` } });
    }
    const res = await addPhoto(caseId, alice.token, await jpegWithGps({ seed: 8 }), { 'retake.view': 'close-up', 'retake.bodySite': '66643007', 'retake.scaleReference': 'true', 'retake.deviceName': 'Pixel 8' });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.added, 1);
    assert.equal(res.body.photos.length, 4);
    assert.equal(res.body.status, 'in-progress');
    assert.equal(res.body.businessStatus.code, 'under-review');
    const sr = await adminGet<ServiceRequest>(server, `ServiceRequest/${caseId}`);
    assert.equal(sr.supportingInfo?.filter((r) => r.reference?.startsWith('Media/')).length, 4);
    const added = res.body.photos.find((p: { width: number }) => p.width === 768);
    const binary = await adminGet<{ data: string }>(server, added.image);
    assert.ok(!Buffer.from(binary.data, 'base64').includes('LeakyPhoneCo'));
  });

  it('adds nothing when the same photo upload is retried with the same Idempotency-Key', async () => {
    const photo = await skinPhoto({ seed: 11 });
    const key = `retake-${Date.now()}`;
    const fields = { 'retake.view': 'overview', 'retake.bodySite': '66643007' };
    const first = await addPhoto(caseId, alice.token, photo, fields).set('Idempotency-Key', key);
    assert.equal(first.status, 201, first.text);
    const before = await countAll(server);
    const again = await addPhoto(caseId, alice.token, photo, fields).set('Idempotency-Key', key);
    assert.equal(again.status, 200, again.text);
    assert.equal(again.body.added, 0);
    assert.deepEqual(await countAll(server), before);
  });

  it('refuses an added photo without a view or with an unknown body site (422)', async () => {
    const photo = await skinPhoto({ seed: 10 });
    const noView = await addPhoto(caseId, alice.token, photo, { 'retake.bodySite': '66643007' });
    assert.equal(JSON.parse(noView.text).code, 'photo-view-required');
    const badSite = await addPhoto(caseId, alice.token, photo, { 'retake.view': 'overview', 'retake.bodySite': '12345' });
    assert.equal(JSON.parse(badSite.text).code, 'photo-body-site-required');
  });
});

describe('POST /intake/photo-check', () => {
  let server: TestServer;
  let token: string;
  before(async () => {
    server = await startTestServer();
    token = (await newPatientToken(server, 'Check')).token;
  });
  after(async () => server.close());
  const check = (bytes: Buffer) => request(server.baseUrl).post('intake/photo-check').set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/octet-stream').send(bytes);

  it('answers the quality of a good photo as acceptable and stores nothing', async () => {
    const before = await countAll(server);
    const res = await check(await skinPhoto({ seed: 3 }));
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.acceptable, true);
    assert.deepEqual(res.body.issues, []);
    assert.deepEqual(await countAll(server), before);
  });

  it('tells the user a blurred, dark photo is blurry and too dark, with advice', async () => {
    const res = await check(await skinPhoto({ seed: 3, blurSigma: 8, brightness: 0.2 }));
    assert.equal(res.body.acceptable, false);
    assert.deepEqual(res.body.issues.map((i: { code: string }) => i.code).sort(), ['blurry', 'underexposed']);
  });

  it('refuses a non-image with a problem', async () => {
    const res = await check(Buffer.from('not an image'));
    assert.equal(res.status, 415);
    assert.equal(JSON.parse(res.text).code, 'photo-unsupported-type');
  });
});
