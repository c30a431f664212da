import type { Bundle, CarePlan, Communication, DiagnosticReport, MedicationRequest, Provenance, QuestionnaireResponse, Task } from '@medplum/fhirtypes';
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FhirHttp } from '../test/support/fhir-http';
import { sampleCase, settle, startReview, submitCase, waitFor, useBotServer } from '../test/bots/support';

function reviewResponse(sr: string, patient: string, author: string, edit: (qr: QuestionnaireResponse) => void = () => undefined): QuestionnaireResponse {
  const qr = JSON.parse(readFileSync(join(__dirname, '../fhir-profiles/examples/derm-review.response.example.json'), 'utf8')) as QuestionnaireResponse;
  delete qr.id;
  qr.basedOn = [{ reference: sr }];
  qr.subject = { reference: patient };
  qr.author = { reference: author };
  edit(qr);
  return qr;
}

async function searchAll<T>(http: FhirHttp, query: string): Promise<T[]> {
  return (((await http.get(query)).body as Bundle).entry ?? []).map((e) => e.resource as T);
}

describe('bots/disposition (completed review → results, end to end)', () => {
  const bed = useBotServer();

  it('a completed prescribe review yields a final coded report, a prescription, follow-up, messages, Provenance and a completed Task', async () => {
    const refs = await submitCase(bed.http, sampleCase());
    const reviewer = await startReview(bed.http, refs.task);
    const review = await bed.http.create(reviewResponse(refs.sr, refs.patient, reviewer));

    const task = await waitFor(async () => {
      const t = (await bed.http.get(refs.task)).body as Task;
      return t.status === 'completed' ? t : undefined;
    }, 15_000, 'Task completed');
    assert.equal(task.businessStatus?.coding?.[0].code, 'results-sent');
    const reportRef = task.output?.[0].valueReference?.reference as string;
    const report = (await bed.http.get(reportRef)).body as DiagnosticReport;
    assert.equal(report.status, 'final');
    assert.deepEqual(
      report.conclusionCode?.[0].coding?.map((c) => `${c.system}|${c.code}`),
      ['http://snomed.info/sct|24079001', 'http://hl7.org/fhir/sid/icd-10-cm|L20.9']
    );
    assert.equal(report.effectiveDateTime, '2025-01-15T09:40:00Z');
    assert.equal(report.media?.length, 3);
    assert.deepEqual(report.performer, [{ reference: reviewer }]);

    const prescriptions = await searchAll<MedicationRequest>(bed.http, `MedicationRequest?subject=${refs.patient}`);
    assert.equal(prescriptions.length, 1);
    assert.equal(prescriptions[0].medicationCodeableConcept?.coding?.[0].code, '284520');
    assert.match(prescriptions[0].dosageInstruction?.[0].text ?? '', /thin layer/);
    assert.equal(prescriptions[0].dispenseRequest?.numberOfRepeatsAllowed, 1);

    const carePlans = await searchAll<CarePlan>(bed.http, `CarePlan?subject=${refs.patient}`);
    assert.equal(carePlans.length, 1);
    const followUps = await searchAll<Task>(bed.http, `Task?subject=${refs.patient}&intent=plan`);
    assert.equal(followUps.length, 1);
    assert.equal(followUps[0].restriction?.period?.end, '2025-03-12T09:40:00.000Z');

    const messages = await searchAll<Communication>(bed.http, `Communication?based-on=${refs.sr}`);
    const toPatient = messages.find((m) => m.category?.[0].text === 'Dermatology answer');
    assert.match(toPatient?.payload?.[0].contentString ?? '', /This is eczema/);
    assert.equal(messages.filter((m) => m.category?.[0].text === 'e-consult answer').length, 0, 'a patient-initiated case has no PCP to answer');

    const provenance = await searchAll<Provenance>(bed.http, `Provenance?entity=QuestionnaireResponse/${review.id}`);
    assert.equal(provenance.length, 1);
    assert.equal(provenance[0].agent[0].who?.reference, reviewer);
    assert.ok(provenance[0].target.some((t) => t.reference === reportRef));

    // Re-running on the same review stores nothing new.
    await settle(bed.http, [refs.task, reportRef]);
    const bot = (await searchAll<{ id: string }>(bed.http, 'Bot?identifier=https://dermbridge.example.org/fhir/sid/bot|disposition'))[0];
    const again = await bed.http.post(`Bot/${bot.id}/$execute`, (await bed.http.get(`QuestionnaireResponse/${review.id}`)).body);
    assert.equal(again.status, 200, again.text);
    assert.equal((await searchAll(bed.http, `MedicationRequest?subject=${refs.patient}`)).length, 1);
    assert.equal((await searchAll(bed.http, `DiagnosticReport?subject=${refs.patient}`)).length, 1);
    assert.equal((await searchAll(bed.http, `Provenance?entity=QuestionnaireResponse/${review.id}`)).length, 1);
    assert.equal(((await bed.http.get(reportRef)).body as DiagnosticReport).meta?.versionId, report.meta?.versionId);
  });

  it('a referral answers the referring PCP and ends the Task as referred in person', async () => {
    const bundle = sampleCase();
    const pcp = await bed.http.create({ resourceType: 'Practitioner', name: [{ family: 'Primary', given: ['Pat'] }] });
    for (const entry of bundle.entry ?? []) {
      if (entry.resource?.resourceType === 'ServiceRequest') {
        entry.resource.requester = { reference: `Practitioner/${pcp.id}` };
      }
    }
    const refs = await submitCase(bed.http, bundle);
    const reviewer = await startReview(bed.http, refs.task);
    await bed.http.create(
      reviewResponse(refs.sr, refs.patient, reviewer, (qr) => {
        qr.item = (qr.item ?? []).filter((i) => i.linkId !== 'medication');
        const disposition = qr.item.find((i) => i.linkId === 'disposition');
        (disposition as { answer: unknown[] }).answer = [{ valueCoding: { system: 'https://dermbridge.example.org/fhir/CodeSystem/derm-review-disposition', code: 'biopsy' } }];
        qr.item.push({ linkId: 'referral-priority', answer: [{ valueCoding: { system: 'http://hl7.org/fhir/request-priority', code: 'urgent' } }] });
        const diagnosis = qr.item.find((i) => i.linkId === 'diagnosis-primary');
        (diagnosis as { answer: unknown[] }).answer = [{ valueCoding: { system: 'http://snomed.info/sct', code: '372244006', display: 'Malignant melanoma' } }];
      })
    );
    const task = await waitFor(async () => {
      const t = (await bed.http.get(refs.task)).body as Task;
      return t.status === 'completed' ? t : undefined;
    }, 15_000, 'Task completed');
    assert.equal(task.businessStatus?.coding?.[0].code, 'referred-in-person');
    const referrals = (await searchAll<{ code?: { text?: string }; priority?: string }>(bed.http, `ServiceRequest?subject=${refs.patient}`)).filter((s) => s.code?.text === 'Skin biopsy');
    assert.equal(referrals.length, 1);
    assert.equal(referrals[0].priority, 'urgent');
    const pcpAnswer = (await searchAll<Communication>(bed.http, `Communication?recipient=Practitioner/${pcp.id}`))[0];
    assert.match(pcpAnswer?.payload?.[0].contentString ?? '', /Agree with atopic dermatitis/);
  });
});
