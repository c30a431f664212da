import type { Bundle, QuestionnaireResponse, RiskAssessment, Task } from '@medplum/fhirtypes';
import { strict as assert } from 'node:assert';
import { sampleCase, settle, submitCase, useBotServer } from '../test/bots/support';
import { handler } from './triage';

describe('bots/triage', () => {
  const bed = useBotServer();

  const event = (input: unknown) => ({ bot: { reference: 'Bot/test' }, contentType: 'application/fhir+json', input, secrets: {} }) as never;

  it('triages a case from its intake response and a second run changes nothing', async () => {
    const refs = await submitCase(bed.http, sampleCase({ answers: { 'rf-red-hot-swollen-skin': true } }));
    await settle(bed.http, [refs.task, refs.sr]);
    const qr = (await bed.http.get(refs.qr)).body as QuestionnaireResponse;
    const [summary] = await handler(bed.medplum, event(qr));
    assert.equal(summary.caseRef, refs.sr);
    assert.equal(summary.priority, 'P1');
    const versions = async () =>
      Promise.all([refs.task, refs.sr].map(async (r) => ((await bed.http.get(r)).body as Task).meta?.versionId));
    const before = await versions();
    await handler(bed.medplum, event(qr));
    await handler(bed.medplum, event((await bed.http.get(refs.media[0])).body));
    assert.deepEqual(await versions(), before);
    const ras = ((await bed.http.get(`RiskAssessment?identifier=https://dermbridge.example.org/fhir/sid/triage|${refs.sr}`)).body as Bundle<RiskAssessment>).entry ?? [];
    assert.equal(ras.length, 1);
    assert.equal(ras[0].resource?.basis?.length, 4, 'the response and the three photos');
  });

  it('a response that is not part of a case still gets P0 advice', async () => {
    const patient = await bed.http.create({ resourceType: 'Patient', name: [{ family: 'Solo' }] });
    const qr = sampleCase({ answers: { 'rf-swelling-lips-tongue-throat': true } }).entry?.find((e) => e.resource?.resourceType === 'QuestionnaireResponse')?.resource as QuestionnaireResponse;
    const stored = await bed.http.create<QuestionnaireResponse>({
      ...qr,
      subject: { reference: `Patient/${patient.id}` },
      author: { reference: `Patient/${patient.id}` },
      item: JSON.parse(JSON.stringify(qr.item).replace(/"urn:uuid:[0-9a-f-]{36}"/g, '"Binary/none"')),
    });
    const [summary] = await handler(bed.medplum, event(stored));
    assert.equal(summary.priority, 'P0');
    const comms = (await bed.http.get(`Communication?identifier=https://dermbridge.example.org/fhir/sid/triage-advice|QuestionnaireResponse/${stored.id}`)).body as Bundle;
    assert.equal(comms.entry?.length, 1);
  });
});
