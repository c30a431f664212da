import type { Bundle, Communication, Media, Task } from '@medplum/fhirtypes';
import { strict as assert } from 'node:assert';
import { PHOTO_QUALITY_EXTENSION } from '../src/triage/photo-standards';
import { sampleCase, settle, startReview, submitCase, waitFor, useBotServer } from '../test/bots/support';
import { handler } from './photo-quality';

describe('bots/photo-quality', () => {
  const bed = useBotServer();

  const event = (input: unknown) => ({ bot: { reference: 'Bot/test' }, contentType: 'application/fhir+json', input, secrets: {} }) as never;

  it('a blurred close-up puts the in-progress Task on hold and tells the patient which photo to retake and how', async () => {
    const refs = await submitCase(bed.http, sampleCase());
    await startReview(bed.http, refs.task);
    const closeUp = ((await bed.http.get(refs.media[1])).body) as Media;
    const blurred: Media = {
      ...closeUp,
      extension: [...(closeUp.extension ?? []), { url: PHOTO_QUALITY_EXTENSION, extension: [{ url: 'blurry', valueBoolean: true }, { url: 'issue', valueCode: 'blurry' }] }],
    };
    const put = await bed.http.put(refs.media[1], blurred);
    assert.equal(put.status, 200, put.text);

    await settle(bed.http, [refs.task, refs.sr]);
    const summary = await handler(bed.medplum, event(put.body));
    assert.deepEqual(summary[0].problems, [`blurry ${refs.media[1]}`]);
    const task = (await bed.http.get(refs.task)).body as Task;
    assert.equal(task.status, 'on-hold');
    assert.equal(task.businessStatus?.coding?.[0].code, 'awaiting-patient-photos');
    const comms = (await bed.http.get(`Communication?based-on=${refs.sr}`)).body as Bundle<Communication>;
    const retake = comms.entry?.map((e) => e.resource).find((c) => c?.category?.[0].text === 'Photo retake request');
    assert.match(retake?.payload?.[0].contentString ?? '', /Retake the close-up photo "close-up.png" of Upper back, left of the spine: Take it again in focus/);

    // Same photos again: no second message, no new Task version.
    await settle(bed.http, [refs.task, refs.sr]);
    const before = ((await bed.http.get(refs.task)).body as Task).meta?.versionId;
    await handler(bed.medplum, event(put.body));
    assert.equal(((await bed.http.get(refs.task)).body as Task).meta?.versionId, before);
    const again = (await bed.http.get(`Communication?based-on=${refs.sr}`)).body as Bundle;
    assert.equal(again.entry?.length, comms.entry?.length);

    // A sharp replacement resumes the case.
    const fixed = await bed.http.put(refs.media[1], { ...closeUp, id: closeUp.id });
    await handler(bed.medplum, event(fixed.body));
    const resumed = (await bed.http.get(refs.task)).body as Task;
    assert.equal(resumed.status, 'in-progress');
    assert.equal(resumed.businessStatus?.coding?.[0].code, 'under-review');
    assert.equal(resumed.statusReason, undefined);
  });

  it('too few photos and a missing overview are named per body site; the dispatcher runs the bot by itself', async () => {
    const bundle = sampleCase();
    bundle.entry = bundle.entry?.filter((e) => !(e.resource?.resourceType === 'Media' && JSON.stringify(e.resource).includes('"overview"')));
    bundle.entry = bundle.entry?.map((e) =>
      e.resource?.resourceType === 'ServiceRequest'
        ? { ...e, resource: { ...e.resource, supportingInfo: e.resource.supportingInfo?.filter((r) => bundle.entry?.some((x) => x.fullUrl === r.reference)) } }
        : e
    );
    const refs = await submitCase(bed.http, bundle);
    const retake = await waitFor(async () => {
      const comms = (await bed.http.get(`Communication?based-on=${refs.sr}`)).body as Bundle<Communication>;
      return comms.entry?.map((e) => e.resource).find((c) => c?.category?.[0].text === 'Photo retake request');
    }, 15_000, 'retake Communication');
    const text = retake.payload?.[0].contentString ?? '';
    assert.match(text, /at least 3 photos/);
    assert.match(text, /overview photo taken from 1-1.5 m/);
    const task = (await bed.http.get(refs.task)).body as Task;
    assert.equal(task.status, 'requested', 'a requested Task cannot go on hold; it says what it waits for');
    assert.match(task.statusReason?.text ?? '', /too_few_photos, no_overview/);
  });
});
