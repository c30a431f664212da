import type { MedplumClient } from '@medplum/core';
import type { Bundle, Flag, Task } from '@medplum/fhirtypes';
import { strict as assert } from 'node:assert';
import { connectStoreClient, storeConnection } from '../src/client/store-client';
import type { FhirHttp } from '../test/support/fhir-http';
import { fhirHttp } from '../test/support/fhir-http';
import type { TestServer } from '../test/support/test-server';
import { startTestServer } from '../test/support/test-server';
import { sampleCase, settle, submitCase } from '../test/bots/support';
import { handler } from './sla-escalation';

describe('bots/sla-escalation', () => {
  let server: TestServer;
  let http: FhirHttp;
  let medplum: MedplumClient;

  before(async () => {
    server = await startTestServer();
    http = fhirHttp(server.baseUrl, await server.adminToken());
    medplum = await connectStoreClient(storeConnection(server.dermbridge.config));
  });

  after(async () => {
    await server.close();
  });

  const run = (now: string) => handler(medplum, { bot: { reference: 'Bot/sla' }, contentType: 'application/json', input: { now }, secrets: {} });

  it('escalates an overdue case once: priority one step up, a Flag, triage does not lower it again', async () => {
    const refs = await submitCase(http, sampleCase());
    await settle(http, [refs.task, refs.sr]);
    // Due 2025-01-16T19:03Z (P1, 48 h): not overdue the day before.
    assert.deepEqual((await run('2025-01-15T12:00:00Z')).escalated, []);
    const result = await run('2025-01-17T00:00:00Z');
    assert.deepEqual(result.escalated, [refs.task]);
    const task = (await http.get(refs.task)).body as Task;
    assert.equal(task.priority, 'asap');
    const flags = ((await http.get(`Flag?identifier=https://dermbridge.example.org/fhir/sid/sla-flag|${refs.task}`)).body as Bundle<Flag>).entry ?? [];
    assert.equal(flags.length, 1);
    assert.equal(flags[0].resource?.status, 'active');
    assert.match(flags[0].resource?.code?.text ?? '', /overdue/);

    // A second run and a re-triage change nothing.
    assert.deepEqual((await run('2025-01-18T00:00:00Z')).escalated, []);
    const sr = (await http.get(refs.sr)).body;
    await http.put(refs.sr, { ...sr, note: [{ text: 'touch: re-runs triage' }] });
    await settle(http, [refs.task, refs.sr]);
    const after = (await http.get(refs.task)).body as Task;
    assert.equal(after.priority, 'asap');
    assert.equal(after.meta?.versionId, task.meta?.versionId);
  });
});
