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
});
