import type { Bundle, Resource } from '@medplum/fhirtypes';
import assert from 'node:assert/strict';
import request from 'supertest';
import type { Test } from 'supertest';
import type { TestServer } from '../support/test-server';

/** Multipart submission helper: `photos` maps part name → bytes (file name `<part>.jpg`). */
export function submit(server: TestServer, token: string, fields: Record<string, unknown>, photos: Record<string, Buffer>, headers: Record<string, string> = {}): Test {
  const req = request(server.baseUrl).post('intake/cases').set('Authorization', `Bearer ${token}`);
  for (const [name, value] of Object.entries(headers)) req.set(name, value);
  for (const [name, value] of Object.entries(fields)) req.field(name, typeof value === 'string' ? value : JSON.stringify(value));
  for (const [name, bytes] of Object.entries(photos)) req.attach(name, bytes, `${name}.jpg`);
  return req;
}

/** How many resources of each case type the store holds (admin view). */
export async function countAll(server: TestServer): Promise<Record<string, number>> {
  const admin = await server.adminToken();
  const out: Record<string, number> = {};
  for (const type of ['Patient', 'QuestionnaireResponse', 'Binary', 'Media', 'ServiceRequest', 'Task']) {
    const res = await request(server.baseUrl).get(`fhir/R4/${type}?_count=1000&_elements=id`).set('Authorization', `Bearer ${admin}`).set('Accept', 'application/fhir+json');
    assert.equal(res.status, 200, `${type}: ${res.text}`);
    out[type] = ((res.body as Bundle).entry ?? []).length;
  }
  return out;
}

export async function adminGet<T = Resource>(server: TestServer, path: string): Promise<T> {
  const res = await request(server.baseUrl).get(`fhir/R4/${path}`).set('Authorization', `Bearer ${await server.adminToken()}`).set('Accept', 'application/fhir+json');
  assert.equal(res.status, 200, `${path}: ${res.text}`);
  return res.body as T;
}

export async function adminWrite<T extends Resource>(server: TestServer, method: 'post' | 'put', path: string, resource: T): Promise<T & { id: string }> {
  const res = await request(server.baseUrl)[method](`fhir/R4/${path}`).set('Authorization', `Bearer ${await server.adminToken()}`).set('Content-Type', 'application/fhir+json').send(JSON.stringify(resource));
  assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${res.text}`);
  return res.body as T & { id: string };
}

export async function newPatientToken(server: TestServer, family: string): Promise<{ id: string; token: string }> {
  const patient = await adminWrite(server, 'post', 'Patient', { resourceType: 'Patient', name: [{ family }] });
  const id = patient.id as string;
  return { id, token: await server.token({ scopes: ['patient/*.cruds'], patientId: id, fhirUser: `Patient/${id}` }) };
}
