import type { Bundle, CapabilityStatement, DiagnosticReport, Media, OperationOutcome, Questionnaire, Task } from '@medplum/fhirtypes';
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CODE_SYSTEM_URLS, PROFILE_URLS, QUESTIONNAIRE_URLS } from '../../src/cases/canonical-urls';
import { seedConformanceResources } from '../../src/fhir/seed-conformance';
import type { FhirHttp } from '../support/fhir-http';
import { fhirHttp } from '../support/fhir-http';
import type { TestServer } from '../support/test-server';
import { startTestServer } from '../support/test-server';

const sampleCase = (): Bundle =>
  JSON.parse(readFileSync(join(__dirname, '../../fhir-profiles/examples/sample-case.transaction.json'), 'utf8')) as Bundle;

describe('clinical model on the embedded server (profiles, Questionnaires, Task lifecycle over HTTP)', () => {
  let server: TestServer;
  let fhir: FhirHttp;

  before(async () => {
    server = await startTestServer();
    await seedConformanceResources(server.dermbridge.repo, server.dermbridge.validator.conformance);
    fhir = fhirHttp(server.baseUrl, await server.adminToken());
  });

  after(async () => {
    await server.close();
  });

  it('lists every dermbridge profile in the CapabilityStatement, on the resource type it constrains', async () => {
    const res = await fhir.get('metadata');
    const capability = res.body as CapabilityStatement;
    const supported = (capability.rest?.[0].resource ?? []).flatMap((r) => (r.supportedProfile ?? []).map((p) => `${r.type} ${p}`));
    const expected: [string, string][] = [
      ['ServiceRequest', PROFILE_URLS.econsultServiceRequest],
      ['Task', PROFILE_URLS.econsultTask],
      ['Media', PROFILE_URLS.photoMedia],
      ['RiskAssessment', PROFILE_URLS.triageRiskAssessment],
      ['DiagnosticReport', PROFILE_URLS.consultDiagnosticReport],
      ['MedicationRequest', PROFILE_URLS.medicationRequest],
    ];
    for (const [type, url] of expected) {
      assert.ok(supported.includes(`${type} ${url}`), `${type} does not list ${url}`);
    }
  });

  it('serves the intake Questionnaire it loaded at start, searchable by its canonical url', async () => {
    const bundle = await fhir.search<Questionnaire>(`Questionnaire?url=${encodeURIComponent(QUESTIONNAIRE_URLS.intake)}`);
    assert.equal(bundle.entry?.length, 1);
    assert.ok((bundle.entry?.[0].resource?.item?.length ?? 0) > 0);
  });

  it('seeding the conformance resources again changes nothing', async () => {
    const changed = await seedConformanceResources(server.dermbridge.repo, server.dermbridge.validator.conformance);
    assert.equal(changed, 0);
  });

  it('accepts the sample case as one transaction and links every photo to a stored Binary', async () => {
    const res = await fhir.post('', sampleCase());
    assert.equal(res.status, 200, res.text);
    const statuses = (res.body as Bundle).entry?.map((e) => e.response?.status);
    assert.deepEqual(statuses, Array(statuses?.length).fill('201'));
    const media = await fhir.search<Media>('Media?_count=10');
    assert.equal(media.entry?.length, 3);
    for (const entry of media.entry ?? []) {
      const binaryRef = entry.resource?.content.url ?? '';
      assert.match(binaryRef, /Binary\/[0-9a-f-]{36}$/);
    }
  });

  it('refuses a photo Media that breaks its profile with 400 naming the element, and stores nothing', async () => {
    const before = await fhir.search<Media>('Media?_total=accurate&_count=0');
    const media = (sampleCase().entry?.find((e) => e.resource?.resourceType === 'Media')?.resource ?? {}) as Media;
    const patient = await fhir.search('Patient?_count=1');
    const broken: Media = { ...media, subject: { reference: `Patient/${patient.entry?.[0].resource?.id}` }, bodySite: undefined };
    delete (broken as { partOf?: unknown }).partOf;
    broken.content = { contentType: 'image/png', url: 'https://photos.example.org/x.png' };
    const res = await fhir.post('Media', broken);
    assert.equal(res.status, 400, res.text);
    const outcome = res.body as OperationOutcome;
    assert.ok(
      outcome.issue.some((i) => (i.expression ?? []).some((e) => e.startsWith('Media.bodySite'))),
      JSON.stringify(outcome.issue)
    );
    const after = await fhir.search<Media>('Media?_total=accurate&_count=0');
    assert.equal(after.total, before.total);
  });

  describe('e-consult Task lifecycle', () => {
    let task: Task;
    let owner: { reference: string };

    before(async () => {
      const found = await fhir.search<Task>('Task?_count=1');
      task = found.entry?.[0].resource as Task;
      assert.equal(task.status, 'requested');
      const dermatologist = await fhir.create({ resourceType: 'Practitioner', name: [{ family: 'Derm' }] });
      owner = { reference: `Practitioner/${dermatologist.id}` };
    });

    it('refuses requested → completed with 422 naming the allowed next statuses', async () => {
      const res = await fhir.put(`Task/${task.id}`, { ...task, status: 'completed' });
      assert.equal(res.status, 422, res.text);
      const text = JSON.stringify(res.body);
      assert.match(text, /accepted/);
      assert.deepEqual((res.body as OperationOutcome).issue[0].expression, ['Task.status']);
      const stored = await fhir.get(`Task/${task.id}`);
      assert.equal((stored.body as Task).status, 'requested');
    });

    it('follows requested → accepted → in-progress → on-hold → in-progress → completed', async () => {
      let current = task;
      const steps = [
        ['accepted', 'accepted'],
        ['in-progress', 'under-review'],
        ['on-hold', 'awaiting-patient-photos'],
        ['in-progress', 'under-review'],
        ['completed', 'results-sent'],
      ] as const;
      for (const [status, business] of steps) {
        const businessStatus = { coding: [{ system: CODE_SYSTEM_URLS.taskBusinessStatus, code: business }] };
        const output = status === 'completed' ? await consultReportOutput(current) : undefined;
        const res = await fhir.put(`Task/${current.id}`, { ...current, status, owner, businessStatus, output });
        assert.equal(res.status, 200, `${current.status} → ${status}: ${res.text}`);
        current = res.body as Task;
      }
      assert.equal(current.status, 'completed');
    });

    async function consultReportOutput(current: Task): Promise<Task['output']> {
      const report = await fhir.create({
        resourceType: 'DiagnosticReport',
        status: 'final',
        code: { text: 'Dermatology e-consult report' },
        subject: current.for as DiagnosticReport['subject'],
        effectiveDateTime: new Date().toISOString(),
        conclusion: 'Seborrhoeic keratosis; no treatment needed.',
      });
      return [{ type: { text: 'consult report' }, valueReference: { reference: `DiagnosticReport/${report.id}` } }];
    }

    it('refuses to reopen a completed Task', async () => {
      const current = (await fhir.get(`Task/${task.id}`)).body as Task;
      const res = await fhir.put(`Task/${task.id}`, { ...current, status: 'in-progress' });
      assert.equal(res.status, 422, res.text);
    });

    it('refuses a new e-consult Task that starts anywhere but requested or draft', async () => {
      const { id: _id, meta: _meta, ...rest } = task;
      const res = await fhir.post('Task', { ...rest, status: 'in-progress' });
      assert.equal(res.status, 422, res.text);
    });
  });
});
