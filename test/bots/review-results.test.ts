import type { QuestionnaireResponse, ServiceRequest, Task } from '@medplum/fhirtypes';
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildReviewResults, diagnosisConcept } from '../../bots/lib/review-results';

const sr: ServiceRequest & { id: string } = {
  resourceType: 'ServiceRequest',
  id: 'case-1',
  status: 'active',
  intent: 'order',
  subject: { reference: 'Patient/p1' },
  requester: { reference: 'Practitioner/pcp' },
};
const task: Task & { id: string } = { resourceType: 'Task', id: 't1', status: 'in-progress', intent: 'order', owner: { reference: 'Practitioner/derm' } };

function review(edit: (qr: QuestionnaireResponse) => void = () => undefined): QuestionnaireResponse & { id: string } {
  const qr = JSON.parse(readFileSync(join(__dirname, '../../fhir-profiles/examples/derm-review.response.example.json'), 'utf8'));
  qr.id = 'r1';
  qr.basedOn = [{ reference: 'ServiceRequest/case-1' }];
  edit(qr);
  return qr;
}

describe('bots/lib/review-results', () => {
  it('pairs each SNOMED CT diagnosis with its ICD-10-CM code from the ConceptMap', () => {
    assert.deepEqual(diagnosisConcept({ system: 'http://snomed.info/sct', code: '11381005' }).coding?.map((c) => c.code), ['11381005', 'L70.0']);
    assert.throws(() => diagnosisConcept({ system: 'http://snomed.info/sct', code: '88616000' }), /No ICD-10-CM pair/);
  });

  it('every created resource is conditional on an identifier derived from the review', () => {
    const { bundle } = buildReviewResults(review(), { serviceRequest: sr, responses: [], media: [], task });
    const posts = (bundle.entry ?? []).filter((e) => e.request?.method === 'POST');
    assert.ok(posts.every((e) => e.request?.ifNoneExist));
    assert.deepEqual(
      posts.map((e) => e.resource?.resourceType),
      ['DiagnosticReport', 'MedicationRequest', 'CarePlan', 'Task', 'Communication', 'Communication', 'Provenance']
    );
  });

  it('an ask-question review puts the Task on hold awaiting the PCP and sends the question', () => {
    const { bundle, completesTask } = buildReviewResults(
      review((qr) => {
        qr.item = (qr.item ?? []).filter((i) => i.linkId !== 'medication');
        qr.item.find((i) => i.linkId === 'disposition')!.answer = [{ valueCoding: { code: 'ask-question' } }];
        qr.item.push({ linkId: 'question-recipient', answer: [{ valueCoding: { code: 'pcp' } }] });
        qr.item.push({ linkId: 'question-text', answer: [{ valueString: 'Any response to 4 weeks of emollients?' }] });
      }),
      { serviceRequest: sr, responses: [], media: [], task }
    );
    assert.equal(completesTask, false);
    const put = bundle.entry?.find((e) => e.request?.method === 'PUT')?.resource as Task;
    assert.equal(put.status, 'on-hold');
    assert.equal(put.businessStatus?.coding?.[0].code, 'awaiting-pcp-response');
    const question = bundle.entry?.map((e) => e.resource).find((r) => r?.resourceType === 'Communication' && JSON.stringify(r).includes('emollients?'));
    assert.deepEqual((question as { recipient: unknown[] }).recipient, [{ reference: 'Practitioner/pcp' }]);
  });

  it('a Task not yet in progress is left alone (the lifecycle cannot complete it)', () => {
    const { bundle, completesTask } = buildReviewResults(review(), { serviceRequest: sr, responses: [], media: [], task: { ...task, status: 'requested' } });
    assert.equal(completesTask, false);
    assert.equal(bundle.entry?.filter((e) => e.request?.method === 'PUT').length, 0);
  });
});
