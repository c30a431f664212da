import type { Bundle, Flag, Task } from '@medplum/fhirtypes';
import { strict as assert } from 'node:assert';
import { sampleCase, settle, submitCase, useBotServer } from '../test/bots/support';
import { handler } from './sla-escalation';

describe('bots/sla-escalation', () => {
  const bed = useBotServer();

  const run = (now: string) => handler(bed.medplum, { bot: { reference: 'Bot/sla' }, contentType: 'application/json', input: { now }, secrets: {} });

  it('escalates an overdue case once: priority one step up, a Flag, triage does not lower it again', async () => {
    const refs = await submitCase(bed.http, sampleCase());
    await settle(bed.http, [refs.task, refs.sr]);
    // Due 2025-01-16T19:03Z (P1, 48 h): not overdue the day before.
    assert.deepEqual((await run('2025-01-15T12:00:00Z')).escalated, []);
    const result = await run('2025-01-17T00:00:00Z');
    assert.deepEqual(result.escalated, [refs.task]);
    const task = (await bed.http.get(refs.task)).body as Task;
    assert.equal(task.priority, 'asap');
    const flags = ((await bed.http.get(`Flag?identifier=https://dermbridge.example.org/fhir/sid/sla-flag|${refs.task}`)).body as Bundle<Flag>).entry ?? [];
    assert.equal(flags.length, 1);
    assert.equal(flags[0].resource?.status, 'active');
    assert.match(flags[0].resource?.code?.text ?? '', /overdue/);

    // A second run and a re-triage change nothing.
    assert.deepEqual((await run('2025-01-18T00:00:00Z')).escalated, []);
    const sr = (await bed.http.get(refs.sr)).body;
    await bed.http.put(refs.sr, { ...sr, note: [{ text: 'touch: re-runs triage' }] });
    await settle(bed.http, [refs.task, refs.sr]);
    const after = (await bed.http.get(refs.task)).body as Task;
    assert.equal(after.priority, 'asap');
    assert.equal(after.meta?.versionId, task.meta?.versionId);
  });

  it('escalates every overdue case however many Tasks are open (pages of 100 overdue ones), and only those', async () => {
    const patient = (await bed.http.post('Patient', { resourceType: 'Patient', name: [{ family: 'Backlog' }] })).body as { id: string };
    const task = (due: string, n: number): Task => ({
      resourceType: 'Task',
      status: 'requested',
      intent: 'order',
      priority: 'routine',
      code: { coding: [{ system: 'https://dermbridge.example.org/fhir/CodeSystem/derm-case-type', code: 'econsult-review' }] },
      for: { reference: `Patient/${patient.id}` },
      description: `backlog ${n}`,
      restriction: { period: { end: due } },
    });
    // The 1,000 not yet due first: the bot once read the first 1,000 open Tasks and never saw the rest.
    const entries = [
      ...Array.from({ length: 1000 }, (_, n) => task(new Date(Date.UTC(2030, 0, 3, 0, 0, n)).toISOString(), 1000 + n)),
      ...Array.from({ length: 230 }, (_, n) => task(new Date(Date.UTC(2030, 0, 1, 0, n)).toISOString(), n)),
    ].map((resource) => ({ resource, request: { method: 'POST', url: 'Task' } }));
    const res = await bed.http.post('', { resourceType: 'Bundle', type: 'transaction', entry: entries });
    assert.equal(res.status, 200, res.text);
    const result = await run('2030-01-02T00:00:00Z');
    assert.equal(result.escalated.length, 230, 'every overdue Task, across three pages');
    assert.ok(result.checked < 300, `only overdue Tasks are read (${result.checked})`);
    const urgent = ((await bed.http.get(`Task?patient=Patient/${patient.id}&priority=urgent&_count=300`)).body as Bundle<Task>).entry?.map((e) => e.resource as Task) ?? [];
    assert.equal(urgent.length, 230);
    assert.ok(urgent.every((t) => Date.parse(t.restriction?.period?.end ?? '') < Date.parse('2030-01-02T00:00:00Z')));
    const routine = (await bed.http.get(`Task?patient=Patient/${patient.id}&priority=routine&_summary=count`)).body as Bundle;
    assert.equal(routine.total, 1000, 'nothing not yet due was touched');
    assert.deepEqual((await run('2030-01-02T00:00:00Z')).escalated, [], 'and once only');
  });
});
