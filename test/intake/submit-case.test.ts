import type { Bundle, Media, Patient, QuestionnaireResponse, ServiceRequest, Task } from '@medplum/fhirtypes';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { PROFILE_URLS } from '../../src/cases/canonical-urls';
import { PHOTO_QUALITY_URL } from '../../src/intake/photo-media';
import { jpegWithGps, skinPhoto } from '../images/photo-fixtures';
import { startTestServer, type TestServer } from '../support/test-server';
import { econsultResponse, intakeResponse, mrnPatient, threePhotos } from './intake-fixtures';
import { adminGet, adminWrite, countAll, newPatientToken, submit } from './intake-http';

describe('POST /intake/cases', () => {
  let server: TestServer;
  let photos: Record<string, Buffer>;

  before(async () => {
    server = await startTestServer();
    const [a, b, c] = await threePhotos();
    photos = { overview: a, close1: b, close2: c };
  });
  after(async () => server.close());

  it('creates the QuestionnaireResponse, a Binary + Media per photo, the ServiceRequest and a requested Task in one go for a patient', async () => {
    const { id: patientId, token } = await newPatientToken(server, 'One');
    const before = await countAll(server);
    const res = await submit(server, token, { questionnaireResponse: intakeResponse() }, photos);
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.status, 'requested');
    assert.equal(res.body.patient, `Patient/${patientId}`);
    assert.equal(res.headers.location, `/intake/cases/${res.body.caseId}`);
    const after = await countAll(server);
    assert.deepEqual(
      Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k]])),
      { Patient: 0, QuestionnaireResponse: 1, Binary: 9, Media: 3, ServiceRequest: 1, Task: 1 }
    );
    const sr = await adminGet<ServiceRequest>(server, `ServiceRequest/${res.body.caseId}`);
    assert.deepEqual(sr.meta?.profile, [PROFILE_URLS.econsultServiceRequest]);
    const supporting = (sr.supportingInfo ?? []).map((r) => r.reference?.split('/')[0]);
    assert.equal(supporting.filter((t) => t === 'Media').length, 3);
    assert.equal(supporting.filter((t) => t === 'QuestionnaireResponse').length, 1);
    assert.equal(sr.requester?.reference, `Patient/${patientId}`);
    const tasks = await adminGet<Bundle<Task>>(server, `Task?focus=ServiceRequest/${sr.id}`);
    const task = tasks.entry?.[0]?.resource as Task;
    assert.equal(task.status, 'requested');
    assert.equal(task.businessStatus?.coding?.[0]?.code, 'received');
    assert.ok(task.restriction?.period?.end);
    const qr = await adminGet<QuestionnaireResponse>(server, res.body.questionnaireResponse);
    assert.equal(qr.subject?.reference, `Patient/${patientId}`);
    assert.ok(JSON.stringify(qr).includes('"url":"Binary/'), 'photo answers point at the stored Binaries');
    for (const photo of res.body.photos) {
      const binary = await adminGet<{ securityContext?: { reference?: string } }>(server, photo.image);
      assert.equal(binary.securityContext?.reference, `Patient/${patientId}`);
    }
  });

  it('records quality metrics on each Media, and flags a blurred photo for triage and the reviewer', async () => {
    const { token } = await newPatientToken(server, 'Blur');
    const res = await submit(server, token, { questionnaireResponse: intakeResponse() }, { ...photos, close2: await skinPhoto({ seed: 9, blurSigma: 8 }) });
    assert.equal(res.status, 201, res.text);
    const media = await adminGet<Bundle<Media>>(server, `Media?based-on=ServiceRequest/${res.body.caseId}`);
    const all = (media.entry ?? []).map((e) => e.resource as Media);
    assert.equal(all.length, 3);
    for (const m of all) {
      assert.deepEqual(m.meta?.profile, [PROFILE_URLS.photoMedia]);
      assert.ok(m.extension?.some((e) => e.url === PHOTO_QUALITY_URL));
      assert.ok(m.bodySite?.coding?.some((c) => c.system === 'http://snomed.info/sct' && c.code === '66643007'));
    }
    const blurred = all.filter((m) => m.note?.[0]?.text?.includes('issues: blurry'));
    assert.equal(blurred.length, 1);
    assert.deepEqual(res.body.photos.filter((p: { quality: { blurry: boolean } }) => p.quality.blurry).length, 1);
  });

  it('leaves no GPS, EXIF or maker data in any stored byte of a JPEG that carried them', async () => {
    const leaky = await jpegWithGps({ seed: 5 });
    assert.ok(leaky.includes('SECRET-HOME-ADDRESS'));
    const { token } = await newPatientToken(server, 'Gps');
    const res = await submit(server, token, { questionnaireResponse: intakeResponse() }, { ...photos, overview: leaky });
    assert.equal(res.status, 201, res.text);
    const binaries: string[] = res.body.photos.flatMap((p: { image: string; review: string; thumbnail: string }) => [p.image, p.review, p.thumbnail]);
    assert.equal(binaries.length, 9);
    for (const ref of binaries) {
      const binary = await adminGet<{ data: string }>(server, ref);
      const bytes = Buffer.from(binary.data, 'base64');
      for (const marker of ['Exif', 'LeakyPhoneCo', 'GPS-Cam', 'SECRET-HOME-ADDRESS']) {
        assert.ok(!bytes.includes(marker), `${ref} contains ${marker}`);
      }
    }
    // Every image (original, review copy, thumbnail) went up as a pending upload and the case
    // transaction's Media claimed it (content or derivative extension), so the reaper will never
    // touch them (src/fhir/store/pending-uploads.ts).
    for (const ref of binaries) {
      const binary = await adminGet<{ meta?: { tag?: { code?: string }[] } }>(server, ref);
      assert.ok(binary.meta?.tag?.some((t) => t.code === 'pending'), `${ref} was not uploaded as pending`);
    }
    const stillPending = (server.dermbridge.store.reader.prepare('SELECT id FROM binary_pending').all() as { id: string }[]).map((r) => `Binary/${r.id}`);
    assert.deepEqual(binaries.filter((ref) => stillPending.includes(ref)), []);
    // …and nowhere in the stored files either: resource JSON, indexes, WAL, and every Binary
    // content file (src/fhir/store/binary-files.ts), of this case or any other.
    const contentFiles = readdirSync(join(server.dataDir, 'binary'), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name));
    assert.ok(contentFiles.length >= 9, `expected this case's 9 content files, found ${contentFiles.length}`);
    for (const file of [join(server.dataDir, 'dermbridge.sqlite'), join(server.dataDir, 'dermbridge.sqlite-wal'), ...contentFiles]) {
      let stored: Buffer;
      try {
        stored = readFileSync(file);
      } catch {
        continue;
      }
      assert.ok(!stored.includes('LeakyPhoneCo') && !stored.includes('SECRET-HOME-ADDRESS'), `${file} holds EXIF text`);
    }
  });

  it('matches a clinician\'s patient by identifier and never creates a duplicate Patient', async () => {
    const pcp = await adminWrite(server, 'post', 'Practitioner', { resourceType: 'Practitioner', name: [{ family: 'Referrer' }] });
    const token = await server.token({ scopes: ['user/*.cruds'], fhirUser: `Practitioner/${pcp.id}` });
    const mrn = `MRN-${randomUUID().slice(0, 8)}`;
    const first = await submit(server, token, { questionnaireResponse: econsultResponse(), patient: mrnPatient(mrn) }, photos);
    assert.equal(first.status, 201, first.text);
    assert.equal(first.body.priority, 'urgent', 'a PCP who suspects cancer makes the e-consult urgent');
    const second = await submit(server, token, { questionnaireResponse: econsultResponse(), patient: mrnPatient(mrn) }, photos);
    assert.equal(second.status, 201, second.text);
    assert.notEqual(second.body.caseId, first.body.caseId);
    assert.equal(second.body.patient, first.body.patient);
    const patients = await adminGet<Bundle<Patient>>(server, `Patient?identifier=https://dermbridge.example.org/fhir/sid/mrn|${mrn}`);
    assert.equal(patients.entry?.length, 1);
    const sr = await adminGet<ServiceRequest>(server, `ServiceRequest/${first.body.caseId}`);
    assert.equal(sr.requester?.reference, `Practitioner/${pcp.id}`);
  });

  it('answers a retry with the same Idempotency-Key with the same case and creates nothing', async () => {
    const { token } = await newPatientToken(server, 'Retry');
    const key = randomUUID();
    const first = await submit(server, token, { questionnaireResponse: intakeResponse() }, photos, { 'Idempotency-Key': key });
    assert.equal(first.status, 201, first.text);
    const before = await countAll(server);
    const again = await submit(server, token, { questionnaireResponse: intakeResponse() }, photos, { 'Idempotency-Key': key });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.body.caseId, first.body.caseId);
    assert.deepEqual(await countAll(server), before);
  });

  it('creates one case when the same submission arrives twice at the same moment', async () => {
    const { token } = await newPatientToken(server, 'Race');
    const key = randomUUID();
    const before = await countAll(server);
    const [one, two] = await Promise.all([1, 2].map(() => submit(server, token, { questionnaireResponse: intakeResponse() }, photos, { 'Idempotency-Key': key })));
    assert.deepEqual([one.status, two.status].sort(), [200, 201], `${one.text} ${two.text}`);
    assert.equal(one.body.caseId, two.body.caseId);
    const after = await countAll(server);
    assert.deepEqual(
      Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k]])),
      { Patient: 0, QuestionnaireResponse: 1, Binary: 9, Media: 3, ServiceRequest: 1, Task: 1 }
    );
  });

  it('answers a resubmission of the same QuestionnaireResponse identifier with the same case', async () => {
    const { token } = await newPatientToken(server, 'SameQr');
    const response = { ...intakeResponse(), identifier: { system: 'https://patient-app.example.org/submissions', value: randomUUID() } };
    const first = await submit(server, token, { questionnaireResponse: response }, photos);
    assert.equal(first.status, 201, first.text);
    const before = await countAll(server);
    const again = await submit(server, token, { questionnaireResponse: response }, photos);
    assert.equal(again.status, 200);
    assert.equal(again.body.caseId, first.body.caseId);
    assert.deepEqual(await countAll(server), before);
  });

  it('accepts the pure-FHIR path: the sample case transaction Bundle, its photos run through the same pipeline', async () => {
    const bundle = JSON.parse(readFileSync(join(__dirname, '..', '..', 'fhir-profiles', 'examples', 'sample-case.transaction.json'), 'utf8')) as Bundle;
    const mrn = `MRN-${randomUUID().slice(0, 8)}`;
    const patientEntry = bundle.entry?.find((e) => e.resource?.resourceType === 'Patient');
    (patientEntry?.resource as Patient).identifier = [{ system: 'https://dermbridge.example.org/fhir/sid/mrn', value: mrn }];
    const res = await request(server.baseUrl)
      .post('intake/cases')
      .set('Authorization', `Bearer ${await server.adminToken()}`)
      .set('Content-Type', 'application/fhir+json')
      .set('Idempotency-Key', randomUUID())
      .send(JSON.stringify(bundle));
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.photos.length, 3);
    assert.ok(res.body.photos.every((p: { review?: string; quality?: unknown }) => p.review && p.quality));
    const views = res.body.photos.map((p: { view: string }) => p.view).sort();
    assert.deepEqual(views, ['close-up', 'dermoscopic', 'overview']);
    const media = await adminGet<Media>(server, res.body.photos[0].media);
    assert.equal(media.deviceName === 'iPhone 14 rear camera' || media.deviceName === 'DermLite DL4 on iPhone 14', true);
  });
});
