/**
 * Binary content (photos) over HTTP: raw upload, raw and FHIR JSON download
 * (http://hl7.org/fhir/R4/binary.html#rest), and durability across a restart.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Binary, Patient } from '@medplum/fhirtypes';
import request from 'supertest';
import { startTestServer, type TestServer } from '../support/test-server';
import { assertOutcome, fhirHttp, FHIR_JSON, unique, type FhirHttp } from '../support/fhir-http';

/** A real 1x1 PNG followed by random bytes, so that any re-encoding or truncation shows. */
const PNG = Buffer.concat([
  Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082', 'hex'),
  randomBytes(200_000),
]);

/** Collects a response body as bytes whatever its content type (superagent's parser signature). */
function bytesParser(res: request.Response, callback: (err: Error | null, body: Buffer) => void): void {
  const stream = res as unknown as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  stream.on('end', () => callback(null, Buffer.concat(chunks)));
  stream.on('error', (err: Error) => callback(err, Buffer.alloc(0)));
}

describe('/fhir/R4/Binary', () => {
  let dataDir: string;
  let server: TestServer;
  let token: string;
  let fhir: FhirHttp;

  const root = (): string => server.baseUrl.replace(/\/$/, '');
  const upload = (bytes: Buffer, contentType: string, headers: Record<string, string> = {}) => {
    const req = request(root()).post('/fhir/R4/Binary').set('Authorization', `Bearer ${token}`).set('Content-Type', contentType).set('Accept', FHIR_JSON);
    for (const [name, value] of Object.entries(headers)) {
      req.set(name, value);
    }
    return req.send(bytes);
  };
  const downloadRaw = (id: string, accept: string, bearer = token) =>
    request(root()).get(`/fhir/R4/Binary/${id}`).set('Authorization', `Bearer ${bearer}`).set('Accept', accept).buffer(true).parse(bytesParser);

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'dermbridge-binary-'));
    server = await startTestServer({ dataDir });
    token = await server.adminToken();
    fhir = fhirHttp(server.baseUrl, token);
  });

  after(async () => {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  describe('POST /fhir/R4/Binary', () => {
    it('stores raw image bytes and answers 201 with the Binary', async () => {
      const res = await upload(PNG, 'image/png');
      assert.equal(res.status, 201, res.text);
      assert.equal(res.body.resourceType, 'Binary');
      assert.equal(res.body.contentType, 'image/png');
      assert.ok(res.body.id);
      assert.match(res.headers.location, new RegExp(`/fhir/R4/Binary/${res.body.id}/_history/`));
    });

    it('accepts a Binary resource as FHIR JSON with base64 data', async () => {
      const bytes = randomBytes(1000);
      const created = await fhir.create<Binary>({ resourceType: 'Binary', contentType: 'application/pdf', data: bytes.toString('base64') });
      const raw = await downloadRaw(created.id, 'application/pdf');
      assert.equal(raw.status, 200);
      assert.ok(Buffer.compare(raw.body as Buffer, bytes) === 0);
    });

    it('answers 400 to FHIR JSON whose data is not base64, and stores nothing', async () => {
      const countBefore = (await fhir.search('Binary?_total=accurate')).total;
      assertOutcome(await fhir.post('Binary', { resourceType: 'Binary', contentType: 'image/png', data: '**not base64**' }), 400);
      assert.equal((await fhir.search('Binary?_total=accurate')).total, countBefore);
    });

    it('answers 400 to unpadded base64 and to base64url (FHIR base64Binary is padded RFC 4648), naming what to fix', async () => {
      const bytes = Buffer.from('dermbridge');
      for (const data of [bytes.toString('base64').replace(/=+$/, ''), Buffer.from([0xfb, 0xff, 0xbf]).toString('base64url'), 'QQ==QUFB']) {
        const res = await fhir.post('Binary', { resourceType: 'Binary', contentType: 'application/octet-stream', data });
        assertOutcome(res, 400);
        assert.match(JSON.stringify(res.body), /padded with = to a multiple of 4/, data);
      }
    });

    it('accepts base64 broken into MIME lines, as the base64Binary pattern allows', async () => {
      const bytes = randomBytes(300);
      const data = bytes.toString('base64').replace(/(.{76})/g, '$1\r\n');
      const created = await fhir.create<Binary>({ resourceType: 'Binary', contentType: 'application/pdf', data });
      const raw = await downloadRaw(created.id, 'application/pdf');
      assert.ok(Buffer.compare(raw.body as Buffer, bytes) === 0);
    });
  });

  describe('GET /fhir/R4/Binary/:id', () => {
    let id: string;

    before(async () => {
      const res = await upload(PNG, 'image/png');
      assert.equal(res.status, 201, res.text);
      id = res.body.id;
    });

    it('returns exactly the uploaded bytes for Accept: image/png', async () => {
      const res = await downloadRaw(id, 'image/png');
      assert.equal(res.status, 200);
      assert.match(res.headers['content-type'], /^image\/png/);
      assert.equal((res.body as Buffer).length, PNG.length);
      assert.ok(Buffer.compare(res.body as Buffer, PNG) === 0, 'downloaded bytes differ from the upload');
    });

    it('returns a Binary whose base64 data decodes to the bytes for Accept: application/fhir+json', async () => {
      const res = await fhir.get(`Binary/${id}`);
      assert.equal(res.status, 200);
      assert.match(res.headers['content-type'], /application\/fhir\+json/);
      const binary = res.body as Binary;
      assert.equal(binary.resourceType, 'Binary');
      assert.equal(binary.contentType, 'image/png');
      assert.equal(binary.data, PNG.toString('base64'));
    });

    it('answers 404 with an OperationOutcome for an unknown Binary, also for a raw download', async () => {
      assertOutcome(await fhir.get(`Binary/${unique('nobody')}`), 404);
      const raw = await request(root()).get(`/fhir/R4/Binary/${unique('nobody')}`).set('Authorization', `Bearer ${token}`).set('Accept', 'image/png');
      assert.equal(raw.status, 404);
    });

    it('requires a token for a raw download', async () => {
      const res = await request(root()).get(`/fhir/R4/Binary/${id}`).set('Accept', 'image/png');
      assert.equal(res.status, 401);
    });

    it('keeps each version’s bytes: vread of the first version returns the first upload', async () => {
      const first = randomBytes(500);
      const created = await fhir.create<Binary>({ resourceType: 'Binary', contentType: 'image/jpeg', data: first.toString('base64') });
      const second = randomBytes(600);
      const updated = await fhir.put(`Binary/${created.id}`, { resourceType: 'Binary', id: created.id, contentType: 'image/jpeg', data: second.toString('base64') });
      assert.equal(updated.status, 200, updated.text);
      const old = await fhir.get(`Binary/${created.id}/_history/${created.meta.versionId}`);
      assert.equal(old.status, 200);
      assert.equal(old.body.data, first.toString('base64'));
      const current = await downloadRaw(created.id, 'image/jpeg');
      assert.ok(Buffer.compare(current.body as Buffer, second) === 0);
    });
  });

  describe('patient photos', () => {
    it('a patient-scoped token downloads its own photo and gets 404 for another patient’s', async () => {
      const own = await fhir.create<Patient>({ resourceType: 'Patient' });
      const other = await fhir.create<Patient>({ resourceType: 'Patient' });
      const ownPhoto = await upload(randomBytes(100), 'image/jpeg', { 'X-Security-Context': `Patient/${own.id}` });
      const otherPhoto = await upload(randomBytes(100), 'image/jpeg', { 'X-Security-Context': `Patient/${other.id}` });
      assert.equal(ownPhoto.status, 201);
      assert.equal(otherPhoto.status, 201);
      const patientToken = await server.token({ scopes: ['patient/*.rs'], patientId: own.id });
      assert.equal((await downloadRaw(ownPhoto.body.id, 'image/jpeg', patientToken)).status, 200);
      assert.equal((await downloadRaw(otherPhoto.body.id, 'image/jpeg', patientToken)).status, 404);
    });
  });

  describe('uploads pending a Media (X-Upload-State: pending)', () => {
    const pendingTagged = (b: Binary): boolean => Boolean(b.meta?.tag?.some((t) => t.code === 'pending'));

    it('are tagged, and expunged when deleted before a Media names them: no bytes in history or on disk', async () => {
      const res = await upload(randomBytes(3000), 'image/jpeg', { 'X-Upload-State': 'pending' });
      assert.equal(res.status, 201, res.text);
      assert.ok(pendingTagged(res.body));
      const versionId = res.body.meta.versionId as string;
      const file = server.dermbridge.store.binaries.pathOf(res.body.id, versionId);
      assert.ok(existsSync(file));
      assert.equal((await fhir.delete(`Binary/${res.body.id}`)).status, 200);
      assert.equal((await fhir.get(`Binary/${res.body.id}/_history/${versionId}`)).status, 410);
      assert.ok(!existsSync(file), 'the content file outlived the expunge');
    });

    it('are reaped after the grace period unless a Media claimed them', async () => {
      const orphan = await upload(randomBytes(3000), 'image/jpeg', { 'X-Upload-State': 'pending' });
      const claimed = await upload(randomBytes(3000), 'image/jpeg', { 'X-Upload-State': 'pending' });
      const media = await fhir.post('Media', { resourceType: 'Media', status: 'completed', content: { contentType: 'image/jpeg', url: `Binary/${claimed.body.id}` } });
      assert.equal(media.status, 201, JSON.stringify(media.body));
      assert.ok((await server.dermbridge.reaper.reapOnce(Date.now() + 2 * 60 * 60 * 1000)) >= 1);
      assert.equal((await fhir.get(`Binary/${orphan.body.id}`)).status, 410);
      assert.equal((await downloadRaw(claimed.body.id, 'image/jpeg')).status, 200);
    });
  });

  describe('after a restart on the same data directory', () => {
    it('serves the same bytes', async () => {
      const bytes = randomBytes(50_000);
      const res = await upload(bytes, 'image/png');
      assert.equal(res.status, 201, res.text);
      const id = res.body.id as string;
      await server.close();
      server = await startTestServer({ dataDir });
      token = await server.adminToken();
      fhir = fhirHttp(server.baseUrl, token);
      const raw = await downloadRaw(id, 'image/png');
      assert.equal(raw.status, 200);
      assert.ok(Buffer.compare(raw.body as Buffer, bytes) === 0, 'bytes changed across the restart');
      const json = await fhir.get(`Binary/${id}`);
      assert.equal(json.body.data, bytes.toString('base64'));
    });
  });
});
