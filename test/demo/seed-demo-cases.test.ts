import { MedplumClient } from '@medplum/core';
import type { Bundle, Media, ServiceRequest, Task } from '@medplum/fhirtypes';
import assert from 'node:assert/strict';
import { seedDemoCases } from '../../src/demo/seed-demo-cases';
import { seedDemoData } from '../../src/demo/seed-demo-data';
import { startTestServer, type TestServer } from '../support/test-server';

describe('demo cases (npm start)', () => {
  let server: TestServer;
  let medplum: MedplumClient;

  before(async () => {
    server = await startTestServer();
    await seedDemoData(server.dermbridge.repo);
    medplum = new MedplumClient({ baseUrl: server.baseUrl, fetch: globalThis.fetch, cacheTime: 0 });
    medplum.setAccessToken(await server.adminToken());
  });
  after(async () => {
    await server.close();
  });

  it('puts three e-consults of the demo patients in the review queue, with photos, once however often the server starts', async () => {
    assert.equal(await seedDemoCases(medplum), 3);
    assert.equal(await seedDemoCases(medplum), 0, 'a restart sends none again');
    const tasks = await medplum.searchResources('Task', { status: 'requested', _count: '10' });
    assert.equal(tasks.length, 3);
    const patients = await medplum.searchResources('Patient', { identifier: 'https://dermbridge.example.org/fhir/identifier/demo|pat-1' });
    assert.equal(patients.length, 1, 'the demo patient is matched, not duplicated');
    const cases = await medplum.searchResources('ServiceRequest', { subject: `Patient/${patients[0].id}` });
    assert.equal(cases.length, 1);
    const sr = cases[0] as ServiceRequest;
    assert.ok(sr.identifier?.some((i) => i.value === 'DEMO-0001'));
    assert.ok(Date.now() - Date.parse(sr.authoredOn ?? '') > 29 * 3600_000, 'the oldest arrived a day and more ago');
    const media = (await medplum.search('Media', { 'based-on': `ServiceRequest/${sr.id}` })) as Bundle<Media>;
    assert.equal(media.entry?.length, 3);
    const task = tasks.find((t) => (t as Task).for?.reference === `Patient/${patients[0].id}`) as Task;
    assert.ok(Date.parse(task.restriction?.period?.end ?? '') > Date.now() - 24 * 3600_000, 'due dates follow the arrival time, not the sample file');
  });
});
