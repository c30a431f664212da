import type { Bundle, Patient, QuestionnaireResponse, ServiceRequest, Task } from '@medplum/fhirtypes';
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import request from 'supertest';
import { BOT_HANDLERS } from '../../src/bots/bot-catalog';
import { SqliteRepository } from '../../src/fhir/store/sqlite-repository';
import { SqliteStore } from '../../src/fhir/store/sqlite-store';
import type { FhirHttp } from '../support/fhir-http';
import { fhirHttp } from '../support/fhir-http';
import type { TestServer } from '../support/test-server';
import { startTestServer } from '../support/test-server';
import { sampleCase, waitFor } from './support';

describe('bot dispatcher: retries, dead letters, $execute', () => {
  let server: TestServer;
  let http: FhirHttp;
  let token: string;
  let failing = true;
  let runs = 0;

  before(async () => {
    BOT_HANDLERS.set('test-flaky', async () => {
      runs++;
      if (failing) {
        throw new Error('flaky bot failed on purpose');
      }
      return { ok: true };
    });
    server = await startTestServer();
    token = await server.adminToken();
    http = fhirHttp(server.baseUrl, token);
  });

  after(async () => {
    BOT_HANDLERS.delete('test-flaky');
    await server.close();
  });

  it('a bot that keeps throwing is retried, then dead-lettered with an AuditEvent, and can be replayed', async () => {
    const bot = await http.create({ resourceType: 'Bot', name: 'test-flaky', identifier: [{ system: 'https://dermbridge.example.org/fhir/sid/bot', value: 'test-flaky' }] });
    await http.create({
      resourceType: 'Subscription',
      status: 'active',
      reason: 'test',
      criteria: 'Basic',
      channel: { type: 'rest-hook', endpoint: `Bot/${bot.id}` },
      extension: [
        { url: 'https://medplum.com/fhir/StructureDefinition/subscription-supported-interaction', valueCode: 'create' },
        { url: 'https://medplum.com/fhir/StructureDefinition/subscription-max-attempts', valueInteger: 2 },
      ],
    });
    const basic = await http.create({ resourceType: 'Basic', code: { text: 'dead letter test' } });
    const admin = (path: string): request.Test => request(server.baseUrl.replace(/\/$/, '')).get(path).set('Authorization', `Bearer ${token}`);
    const dead = await waitFor(async () => {
      const res = await admin('/admin/dead-letters');
      return res.body.deadLetters?.find((d: { resourceId: string }) => d.resourceId === basic.id);
    }, 15_000, 'dead letter');
    assert.equal(dead.attempts, 2);
    assert.equal(runs, 2);
    assert.match(dead.lastError, /flaky bot failed on purpose/);
    const audit = await http.get(`AuditEvent?agent=Bot/${bot.id}`);
    assert.ok(((audit.body as Bundle).entry ?? []).some((e) => JSON.stringify(e.resource).includes('dead-lettered')), 'an AuditEvent records the dead letter');

    // An update does not match the create-only subscription.
    await http.put(`Basic/${basic.id}`, { ...basic, code: { text: 'changed' } });

    failing = false;
    const replay = await request(server.baseUrl.replace(/\/$/, ''))
      .post(`/admin/dead-letters/${dead.id}/replay`)
      .set('Authorization', `Bearer ${token}`);
    assert.equal(replay.status, 202);
    await waitFor(async () => {
      const res = await admin('/admin/dead-letters');
      return res.body.deadLetters.every((d: { id: number }) => d.id !== dead.id) || undefined;
    });
    assert.equal(runs, 3);
  });

  it('dead letters and the bot queue are not for patient tokens', async () => {
    const patientToken = await server.token({ scopes: ['patient/*.rs'], patientId: 'p1' } as never);
    for (const path of ['/admin/dead-letters', '/admin/bot-runs/queue']) {
      const res = await request(server.baseUrl.replace(/\/$/, '')).get(path).set('Authorization', `Bearer ${patientToken}`);
      assert.equal(res.status, 403, path);
    }
  });

  it('shows an operator how far behind the bots are', async () => {
    const res = await request(server.baseUrl.replace(/\/$/, '')).get('/admin/bot-runs/queue').set('Authorization', `Bearer ${token}`);
    assert.equal(res.status, 200);
    assert.ok(Array.isArray(res.body.pending));
    assert.equal(typeof res.body.changesBehind, 'number');
  });

  it('$execute on an unknown Bot is 404', async () => {
    const res = await http.post('Bot/does-not-exist/$execute', { resourceType: 'Basic' });
    assert.equal(res.status, 404);
  });
});

describe('bot dispatcher: restart catch-up', () => {
  it('a case committed while no dispatcher ran is triaged when the server starts again', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'dermbridge-bots-'));
    try {
      // First start: seeds the Bots and Subscriptions, moves the cursor to the end of the log.
      const first = await startTestServer({ dataDir });
      const firstHttp = fhirHttp(first.baseUrl, await first.adminToken());
      await waitFor(async () => ((await firstHttp.get('Subscription?status=active')).body as Bundle).entry?.length || undefined);
      // Writes no bot watches do not even wake the dispatcher: the saved cursor may stay behind
      // them (the next start passes them again), never ahead of the log.
      for (let i = 0; i < 20; i++) {
        assert.equal((await firstHttp.post('Patient', { resourceType: 'Patient', name: [{ family: `Unwatched${i}` }] })).status, 201);
      }
      await first.close();
      const saved = new DatabaseSync(join(dataDir, 'dermbridge.sqlite'), { readOnly: true });
      try {
        const cursor = saved.prepare("SELECT value FROM bot_cursor WHERE name = 'change_log'").get() as { value: number };
        const last = saved.prepare('SELECT max(seq) AS seq FROM change_log').get() as { seq: number };
        assert.ok(cursor.value > 0 && cursor.value <= last.seq, `cursor ${cursor.value}, log ${last.seq}`);
      } finally {
        saved.close();
      }

      // A crash right after commit: the case is in the store, no bot ever ran for it.
      const store = new SqliteStore({ path: join(dataDir, 'dermbridge.sqlite'), baseUrl: 'http://127.0.0.1/' });
      const repo = new SqliteRepository(store);
      const resources = sampleCase().entry?.map((e) => e.resource) ?? [];
      const patient = await repo.createResource(resources.find((r) => r?.resourceType === 'Patient') as Patient);
      const qrTemplate = resources.find((r) => r?.resourceType === 'QuestionnaireResponse') as QuestionnaireResponse;
      const qr = await repo.createResource<QuestionnaireResponse>({
        ...qrTemplate,
        subject: { reference: `Patient/${patient.id}` },
        author: { reference: `Patient/${patient.id}` },
        item: JSON.parse(JSON.stringify(qrTemplate.item).replace(/"urn:uuid:[0-9a-f-]{36}"/g, '"Binary/none"')),
      });
      const srTemplate = resources.find((r) => r?.resourceType === 'ServiceRequest') as ServiceRequest;
      const sr = await repo.createResource<ServiceRequest>({
        ...srTemplate,
        subject: { reference: `Patient/${patient.id}` },
        requester: { reference: `Patient/${patient.id}` },
        supportingInfo: [{ reference: `QuestionnaireResponse/${qr.id}` }],
      });
      const taskTemplate = resources.find((r) => r?.resourceType === 'Task') as Task;
      const task = await repo.createResource<Task>({
        ...taskTemplate,
        priority: 'routine',
        focus: { reference: `ServiceRequest/${sr.id}` },
        for: { reference: `Patient/${patient.id}` },
      });
      await store.close();

      const second = await startTestServer({ dataDir });
      try {
        const http = fhirHttp(second.baseUrl, await second.adminToken());
        const triaged = await waitFor(async () => {
          const t = (await http.get(`Task/${task.id}`)).body as Task;
          return t.priority === 'urgent' ? t : undefined;
        }, 15_000, 'catch-up triage');
        assert.equal(Date.parse(triaged.restriction?.period?.end ?? ''), Date.parse('2025-01-16T19:03:00Z'));
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
