import type { Bundle, Communication, RiskAssessment, ServiceRequest, Task } from '@medplum/fhirtypes';
import { strict as assert } from 'node:assert';
import type { FhirHttp } from '../support/fhir-http';
import { sampleCase, waitFor, useBotServer } from './support';

interface CaseRefs {
  sr: string;
  task: string;
  qr: string;
}

async function submit(http: FhirHttp, bundle: Bundle): Promise<CaseRefs> {
  const res = await http.post('', bundle);
  assert.equal(res.status, 200, res.text);
  const locations = (res.body as Bundle).entry?.map((e) => e.response?.location ?? '') ?? [];
  const find = (type: string): string => (locations.find((l) => l.startsWith(`${type}/`)) as string).split('/').slice(0, 2).join('/');
  return { sr: find('ServiceRequest'), task: find('Task'), qr: find('QuestionnaireResponse') };
}

async function riskAssessmentFor(http: FhirHttp, sr: string): Promise<RiskAssessment | undefined> {
  const res = await http.get(`RiskAssessment?identifier=https://dermbridge.example.org/fhir/sid/triage|${sr}`);
  return (res.body as Bundle<RiskAssessment>).entry?.[0]?.resource;
}

describe('triage bot on the embedded server (after-commit dispatch)', () => {
  const bed = useBotServer();

  it('seeds the Bots and their rest-hook Subscriptions with the supported-interaction extension vocabulary', async () => {
    const bots = await waitFor(async () => {
      const res = await bed.http.get('Bot?identifier=https://dermbridge.example.org/fhir/sid/bot|triage');
      return (res.body as Bundle).entry?.[0]?.resource;
    });
    const subs = await bed.http.get(`Subscription?status=active`);
    const endpoints = ((subs.body as Bundle).entry ?? []).map((e) => (e.resource as { channel: { endpoint: string } }).channel.endpoint);
    assert.ok(endpoints.includes(`Bot/${bots.id}`));
  });

  it('a submitted case gets its Task priority, due date and a RiskAssessment without any manual call', async () => {
    const refs = await submit(bed.http, sampleCase({ task: { priority: 'routine', restriction: { period: { end: '2025-03-01T00:00:00Z' } } } }));
    const task = await waitFor(async () => {
      const t = (await bed.http.get(refs.task)).body as Task;
      return t.priority === 'urgent' ? t : undefined;
    }, 15_000, 'Task priority');
    assert.equal(task.restriction?.period?.end, '2025-01-16T19:03:00.000Z');
    const ra = await waitFor(() => riskAssessmentFor(bed.http, refs.sr), 15_000, 'RiskAssessment');
    assert.equal(ra.prediction?.[0].outcome?.coding?.[0].code, 'P1');
    assert.match(ra.prediction?.[0].rationale ?? '', /p1-nice-7-point .*score 6/);
    assert.ok(ra.basis?.some((b) => b.reference === refs.qr));
    const sr = await waitFor(async () => {
      const s = (await bed.http.get(refs.sr)).body as ServiceRequest;
      return s.supportingInfo?.some((r) => r.reference === `RiskAssessment/${ra.id}`) ? s : undefined;
    });
    assert.equal(sr.priority, 'urgent');
  });

  it('a P0 case is stat at once and the patient gets emergency advice', async () => {
    const refs = await submit(bed.http, sampleCase({ answers: { 'rf-trouble-breathing': true } }));
    const comm = await waitFor(async () => {
      const res = await bed.http.get(`Communication?identifier=https://dermbridge.example.org/fhir/sid/triage-advice|${refs.sr}`);
      return (res.body as Bundle<Communication>).entry?.[0]?.resource;
    }, 15_000, 'emergency Communication');
    assert.match(comm.payload?.[0].contentString ?? '', /emergency/i);
    const task = await waitFor(async () => {
      const t = (await bed.http.get(refs.task)).body as Task;
      return t.priority === 'stat' ? t : undefined;
    });
    assert.equal(task.restriction?.period?.end, '2025-01-14T20:03:00.000Z');
    const ra = await riskAssessmentFor(bed.http, refs.sr);
    assert.equal(ra?.prediction?.[0].outcome?.coding?.[0].code, 'P0');
    assert.ok(ra?.mitigation?.includes('emergency'));
  });

  it('running the bot again with $execute on the same input creates no new version', async () => {
    const refs = await submit(bed.http, sampleCase({ answers: { 'rf-red-most-of-body': true } }));
    await waitFor(async () => ((await bed.http.get(refs.task)).body as Task).priority === 'stat' || undefined);
    const versions = async (): Promise<string[]> => {
      const ra = await riskAssessmentFor(bed.http, refs.sr);
      const comm = await bed.http.get(`Communication?identifier=https://dermbridge.example.org/fhir/sid/triage-advice|${refs.sr}`);
      return [
        ((await bed.http.get(refs.task)).body as Task).meta?.versionId as string,
        ((await bed.http.get(refs.sr)).body as ServiceRequest).meta?.versionId as string,
        ra?.meta?.versionId as string,
        String((comm.body as Bundle).entry?.length),
        (comm.body as Bundle).entry?.[0]?.resource?.meta?.versionId as string,
      ];
    };
    // Let the after-commit runs triggered by the bot's own writes settle.
    let before = await versions();
    await waitFor(async () => {
      await new Promise((r) => setTimeout(r, 300));
      const now = await versions();
      const stable = JSON.stringify(now) === JSON.stringify(before);
      before = now;
      return stable || undefined;
    });
    const bot = ((await bed.http.get('Bot?identifier=https://dermbridge.example.org/fhir/sid/bot|triage')).body as Bundle).entry?.[0]?.resource;
    const qr = (await bed.http.get(refs.qr)).body;
    for (let i = 0; i < 2; i++) {
      const res = await bed.http.post(`Bot/${bot?.id}/$execute`, qr);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body[0].priority, 'P0');
    }
    assert.deepEqual(await versions(), before);
    assert.equal(before[3], '1');
  });
});
