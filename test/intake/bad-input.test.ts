import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { hugeDimensionPng, skinPhoto } from '../images/photo-fixtures';
import { startTestServer, type TestServer } from '../support/test-server';
import { econsultResponse, intakeResponse, mrnPatient, threePhotos } from './intake-fixtures';
import { adminWrite, countAll, newPatientToken, submit } from './intake-http';

/** Every bad submission: a 4xx problem with a stable code, nothing stored, and the server still up. */
describe('POST /intake/cases with bad input', () => {
  let server: TestServer;
  let token: string;
  let photos: Record<string, Buffer>;
  let countsBefore: Record<string, number>;

  before(async () => {
    server = await startTestServer();
    token = (await newPatientToken(server, 'Bad')).token;
    const [a, b, c] = await threePhotos();
    photos = { overview: a, close1: b, close2: c };
  });
  beforeEach(async () => {
    countsBefore = await countAll(server);
  });
  afterEach(async function () {
    if (this.currentTest?.state !== 'passed') return;
    assert.deepEqual(await countAll(server), countsBefore, 'nothing was stored');
    const health = await request(server.baseUrl).get('healthcheck');
    assert.equal(health.status, 200);
  });
  after(async () => server.close());

  const expectProblem = (res: request.Response, status: number, code: string, detail?: RegExp): void => {
    assert.equal(res.status, status, res.text);
    assert.match(String(res.headers['content-type']), /application\/problem\+json/);
    const body = JSON.parse(res.text) as { code: string; detail: string };
    assert.equal(body.code, code);
    if (detail) assert.match(body.detail, detail);
  };

  it('refuses a file whose bytes are not an image, whatever its name (415)', async () => {
    const res = await submit(server, token, { questionnaireResponse: intakeResponse() }, { ...photos, close2: Buffer.from('%PDF-1.7\n%âãÏÓ\n1 0 obj\n<<>>\nendobj\n') });
    expectProblem(res, 415, 'photo-unsupported-type', /close2\.jpg.*not a JPEG, PNG or WebP/);
  });

  it('refuses a truncated JPEG (422)', async () => {
    const whole = await skinPhoto({ seed: 4 });
    const res = await submit(server, token, { questionnaireResponse: intakeResponse() }, { ...photos, close1: whole.subarray(0, whole.length >> 1) });
    expectProblem(res, 422, 'photo-corrupt', /damaged or incomplete/);
  });

  it('refuses a 0-byte file (400)', async () => {
    const res = await submit(server, token, { questionnaireResponse: intakeResponse() }, { ...photos, overview: Buffer.alloc(0) });
    expectProblem(res, 400, 'photo-empty', /empty/);
  });

  it('refuses a 60 MB upload (413) after reading it, without a reset connection', async function () {
    this.timeout(60000);
    const huge = Buffer.alloc(60 * 1024 * 1024, 0x41);
    huge.set([0xff, 0xd8, 0xff, 0xe0]);
    const res = await submit(server, token, { questionnaireResponse: intakeResponse() }, { ...photos, overview: huge });
    expectProblem(res, 413, 'photo-too-large', /larger than 20 MB/);
  });

  it('refuses a 30000 × 30000 PNG, a decompression bomb, from its header (413)', async () => {
    const res = await submit(server, token, { questionnaireResponse: intakeResponse() }, { ...photos, close2: hugeDimensionPng() });
    expectProblem(res, 413, 'photo-too-many-pixels', /30000 × 30000/);
  });

  it('refuses more than 12 photos (413)', async () => {
    const parts = Array.from({ length: 13 }, (_, i) => `p${i}`);
    const many = Object.fromEntries(parts.map((p, i) => [p, Object.values(photos)[i % 3]]));
    const res = await submit(server, token, { questionnaireResponse: intakeResponse(parts) }, many);
    expectProblem(res, 413, 'too-many-photos', /At most 12 photos/);
  });

  it('refuses a QuestionnaireResponse to another Questionnaire (422)', async () => {
    const response = { ...intakeResponse(), questionnaire: 'https://dermbridge.example.org/fhir/Questionnaire/derm-review|0.1.0' };
    const res = await submit(server, token, { questionnaireResponse: response }, photos);
    expectProblem(res, 422, 'questionnaire-not-accepted', /derm-intake/);
  });

  it('refuses a response with required answers missing and names the linkIds (422)', async () => {
    const response = intakeResponse(undefined, { 'concern-description': [], 'consent-store-and-forward': [] });
    const res = await submit(server, token, { questionnaireResponse: response }, photos);
    expectProblem(res, 422, 'questionnaire-response-invalid');
    const body = JSON.parse(res.text) as { detail: string; errors: { where?: string; message: string }[] };
    assert.match(body.detail, /concern-description/);
    assert.match(body.detail, /consent-store-and-forward/);
  });

  it('refuses a photo set with fewer than 3 photos, quoting the form\'s rule (422)', async () => {
    const response = intakeResponse(['overview', 'close1']);
    const res = await submit(server, token, { questionnaireResponse: response }, { overview: photos.overview, close1: photos.close1 });
    expectProblem(res, 422, 'questionnaire-response-invalid', /at least 3 photos/);
  });

  it('refuses a photo part that no answer refers to (422)', async () => {
    const res = await submit(server, token, { questionnaireResponse: intakeResponse() }, { ...photos, stray: photos.close1 });
    expectProblem(res, 422, 'photo-answer-mismatch', /stray/);
  });

  it('refuses a body that is neither multipart nor a FHIR Bundle (415)', async () => {
    const res = await request(server.baseUrl).post('intake/cases').set('Authorization', `Bearer ${token}`).set('Content-Type', 'text/plain').send('hello');
    expectProblem(res, 415, 'unsupported-media-type');
  });

  it('refuses a request without a token (401)', async () => {
    const res = await request(server.baseUrl).post('intake/cases').field('questionnaireResponse', '{}');
    assert.equal(res.status, 401);
  });

  it('stores nothing when the last photo is broken (atomicity, photo pipeline)', async () => {
    const clinician = await server.token({ scopes: ['system/*.cruds'] });
    const whole = await skinPhoto({ seed: 6 });
    const author = await adminWrite(server, 'post', 'Practitioner', { resourceType: 'Practitioner', name: [{ family: 'Pcp' }] });
    const response = { ...econsultResponse(), author: { reference: `Practitioner/${author.id}` } };
    countsBefore = await countAll(server);
    const res = await submit(server, clinician, { questionnaireResponse: response, patient: mrnPatient(`MRN-${randomUUID()}`) }, { ...photos, close2: whole.subarray(0, whole.length - 5000) });
    expectProblem(res, 422, 'photo-corrupt');
  });
});

describe('POST /intake/cases when the store fails on the last photo', () => {
  let server: TestServer;
  before(async () => {
    // A write guard that refuses the third Media of a submission: the failure happens inside the
    // store's transaction, after the Patient, Binaries, QuestionnaireResponse and two Media were written.
    const failThirdMedia = (next: Resource): void => {
      if (next.resourceType === 'Media' && (next as { identifier?: { value?: string }[] }).identifier?.[0]?.value?.endsWith('-photo-3')) {
        throw new OperationOutcomeError(badRequest('simulated storage failure on the last photo'));
      }
    };
    server = await startTestServer({}, { guards: [failThirdMedia] });
  });
  after(async () => server.close());

  it('leaves no Patient, QuestionnaireResponse, Binary, Media, ServiceRequest or Task behind', async () => {
    const [a, b, c] = await threePhotos();
    const author = await adminWrite(server, 'post', 'Practitioner', { resourceType: 'Practitioner', name: [{ family: 'Pcp' }] });
    const token = await server.token({ scopes: ['user/*.cruds'], fhirUser: `Practitioner/${author.id}` });
    const before = await countAll(server);
    const filesBefore = contentFiles(server.dataDir);
    const res = await submit(server, token, { questionnaireResponse: econsultResponse(), patient: mrnPatient(`MRN-${randomUUID()}`) }, { overview: a, close1: b, close2: c });
    assert.equal(res.status, 422, res.text);
    assert.equal(JSON.parse(res.text).code, 'store-rejected');
    assert.deepEqual(await countAll(server), before);
    // Nor any photo byte: the transaction's Binaries rolled back with their files, and the
    // originals uploaded before it were expunged, history and content files included.
    assert.deepEqual(contentFiles(server.dataDir), filesBefore);
  });
});

/** Every Binary content file of the server's store (src/fhir/store/binary-files.ts). */
function contentFiles(dataDir: string): string[] {
  return readdirSync(join(dataDir, 'binary'), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}
