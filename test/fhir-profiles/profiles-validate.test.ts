import assert from 'node:assert/strict';
import { OperationOutcomeError } from '@medplum/core';
import type { Bundle, Media, OperationOutcomeIssue, QuestionnaireResponse, Resource } from '@medplum/fhirtypes';
import { PROFILE_URLS } from '../../src/cases/canonical-urls';
import { checkQuestionnaireResponse } from '../../src/cases/questionnaire-response-check';
import { createResourceValidator, type ResourceValidator } from '../../src/fhir/validation';
import { ourValueSets, PROFILES_DIR, readProfileFiles, readQuestionnaire } from './profile-files';

// `any` on purpose: the mutations poke at arbitrary JSON paths of the examples; typing each path would add nothing.
type Json = any;
type Mutation = (resource: Json) => void;

/** One representative invalid instance per profile: the example, broken in one place. */
const INVALID: readonly { profile: string; example: string; breaks: string; mutate: Mutation; expression: string }[] = [
  {
    profile: 'derm-econsult-servicerequest',
    example: 'derm-econsult-servicerequest',
    breaks: 'has no priority',
    mutate: (r) => delete r.priority,
    expression: 'ServiceRequest.priority',
  },
  {
    profile: 'derm-econsult-task',
    example: 'derm-econsult-task',
    breaks: 'uses a business status outside the value set',
    mutate: (r) => (r.businessStatus.coding[0].code = 'lost'),
    expression: 'Task.businessStatus',
  },
  {
    profile: 'derm-photo-media',
    example: 'derm-photo-media',
    breaks: 'codes the body site outside SNOMED CT',
    mutate: (r) => (r.bodySite.coding[0].system = 'http://example.org/body-sites'),
    expression: 'Media.bodySite',
  },
  {
    profile: 'derm-triage-riskassessment',
    example: 'derm-triage-riskassessment',
    breaks: 'gives no rationale',
    mutate: (r) => delete r.prediction[0].rationale,
    expression: 'RiskAssessment.prediction[0].rationale',
  },
  {
    profile: 'derm-consult-diagnosticreport',
    example: 'derm-consult-diagnosticreport',
    breaks: 'is preliminary',
    mutate: (r) => (r.status = 'preliminary'),
    expression: 'DiagnosticReport.status',
  },
  {
    profile: 'derm-medicationrequest',
    example: 'derm-medicationrequest',
    breaks: 'has no directions text',
    mutate: (r) => (r.dosageInstruction = [{ sequence: 1 }]),
    expression: 'MedicationRequest.dosageInstruction[0].text',
  },
];

/** More broken instances, one rule each, to pin down what each profile enforces. */
const MORE_INVALID: readonly { example: string; breaks: string; mutate: Mutation; expression: string }[] = [
  { example: 'derm-econsult-servicerequest', breaks: 'is not coded as a derm e-consult', mutate: (r) => (r.code.coding[0].code = 'x'), expression: 'ServiceRequest.code' },
  { example: 'derm-econsult-task', breaks: 'is on hold without saying whom it waits for', mutate: (r) => (r.status = 'on-hold'), expression: 'Task' },
  { example: 'derm-econsult-task', breaks: 'has no focus', mutate: (r) => delete r.focus, expression: 'Task.focus' },
  { example: 'derm-photo-media', breaks: 'has no scale-reference extension', mutate: (r) => delete r.extension, expression: 'Media.extension' },
  { example: 'derm-photo-media', breaks: 'has a non-boolean scale reference', mutate: (r) => (r.extension = [{ url: PROFILE_URLS.scaleReferencePresent, valueString: 'yes' }]), expression: 'Media.extension[0]' },
  { example: 'derm-photo-media', breaks: 'has an unknown view', mutate: (r) => (r.view.coding[0].code = 'selfie'), expression: 'Media.view' },
  { example: 'derm-photo-media', breaks: 'is a GIF', mutate: (r) => (r.content.contentType = 'image/gif'), expression: 'Media.content' },
  { example: 'derm-photo-media', breaks: 'names no capture device', mutate: (r) => delete r.deviceName, expression: 'Media.deviceName' },
  { example: 'derm-triage-riskassessment', breaks: 'has a priority other than P0-P2', mutate: (r) => (r.prediction[0].outcome.coding[0].code = 'P9'), expression: 'RiskAssessment.prediction[0].outcome' },
  { example: 'derm-consult-diagnosticreport', breaks: 'has no effective date', mutate: (r) => delete r.effectiveDateTime, expression: 'DiagnosticReport.effective[x]' },
  { example: 'derm-consult-diagnosticreport', breaks: 'codes the conclusion in SNOMED CT only', mutate: (r) => r.conclusionCode[0].coding.pop(), expression: 'DiagnosticReport.conclusionCode[0]' },
  { example: 'derm-medicationrequest', breaks: 'codes the drug outside RxNorm', mutate: (r) => (r.medicationCodeableConcept.coding[0].system = 'http://snomed.info/sct'), expression: 'MedicationRequest.medication[x]' },
];

function example(name: string): Json {
  const file = readProfileFiles('examples').find((f) => f.name === `examples/${name}.example.json`);
  assert.ok(file, `no example ${name}`);
  return structuredClone(file.resource);
}

function rejection(validator: ResourceValidator, resource: Resource): OperationOutcomeIssue[] {
  try {
    validator.validate(resource);
  } catch (err) {
    assert.ok(err instanceof OperationOutcomeError, String(err));
    return err.outcome.issue;
  }
  assert.fail('the instance was accepted');
}

function resourcesOf(resource: Resource): Resource[] {
  return resource.resourceType === 'Bundle' ? ((resource as Bundle).entry ?? []).flatMap((e) => (e.resource ? [e.resource] : [])) : [resource];
}

describe('fhir-profiles/structure-definitions (with the server validator)', () => {
  let validator: ResourceValidator;

  before(() => {
    validator = createResourceValidator({ profilesDir: PROFILES_DIR });
  });

  it('loads every resource profile', () => {
    const { scaleReferencePresent, ...resourceProfiles } = PROFILE_URLS;
    assert.ok(scaleReferencePresent);
    assert.deepEqual(validator.knownProfiles().sort(), Object.values(resourceProfiles).sort());
  });

  for (const file of readProfileFiles('examples')) {
    it(`accepts ${file.name}`, () => {
      for (const resource of resourcesOf(file.resource)) {
        validator.validate(resource);
      }
    });
  }

  it('has at least one example claiming each profile', () => {
    const claimed = new Set(readProfileFiles('examples').flatMap((f) => resourcesOf(f.resource).flatMap((r) => r.meta?.profile ?? [])));
    for (const url of validator.knownProfiles()) {
      assert.ok(claimed.has(url), `no example for ${url}`);
    }
  });

  for (const { profile, breaks, mutate, expression, example: name } of INVALID) {
    it(`rejects a ${profile} instance that ${breaks}, pointing at ${expression}`, () => {
      const resource = example(name);
      mutate(resource);
      const issues = rejection(validator, resource as Resource);
      assert.ok(
        issues.some((i) => i.severity === 'error' && i.expression?.includes(expression)),
        JSON.stringify(issues, null, 1)
      );
    });
  }

  for (const { breaks, mutate, expression, example: name } of MORE_INVALID) {
    it(`rejects a ${name} instance that ${breaks}`, () => {
      const resource = example(name);
      mutate(resource);
      const issues = rejection(validator, resource as Resource);
      assert.ok(issues.some((i) => i.expression?.includes(expression)), JSON.stringify(issues, null, 1));
    });
  }
});

describe('fhir-profiles/examples/sample-case.transaction.json', () => {
  const bundle = readProfileFiles('examples').find((f) => f.name === 'examples/sample-case.transaction.json')?.resource as Bundle;
  const entries = bundle.entry ?? [];
  const byType = (type: string) => entries.filter((e) => e.resource?.resourceType === type);

  it('is a transaction whose entries all have urn:uuid fullUrls', () => {
    assert.equal(bundle.type, 'transaction');
    for (const entry of entries) {
      assert.match(entry.fullUrl ?? '', /^urn:uuid:[0-9a-f-]{36}$/);
      assert.equal(entry.request?.method, 'POST');
    }
  });

  it('creates the Patient conditionally on its identifier', () => {
    const [patient] = byType('Patient');
    const identifier = (patient.resource as { identifier?: { system?: string; value?: string }[] }).identifier?.[0];
    assert.equal(patient.request?.ifNoneExist, `identifier=${identifier?.system}|${identifier?.value}`);
  });

  it('holds three photos, each a Binary and a Media of a different view pointing at it', () => {
    const binaries = new Set(byType('Binary').map((e) => e.fullUrl));
    const media = byType('Media').map((e) => e.resource as Media);
    assert.equal(binaries.size, 3);
    assert.equal(media.length, 3);
    assert.ok(media.every((m) => binaries.has(m.content.url)));
    assert.deepEqual(media.map((m) => m.view?.coding?.[0].code).sort(), ['close-up', 'dermoscopic', 'overview']);
  });

  it('resolves every urn:uuid it mentions to one of its own entries', () => {
    const fullUrls = new Set(entries.map((e) => e.fullUrl));
    const mentioned = JSON.stringify(entries.map((e) => e.resource)).match(/urn:uuid:[0-9a-f-]{36}/g) ?? [];
    assert.ok(mentioned.length > 10);
    assert.deepEqual(mentioned.filter((u) => !fullUrls.has(u)), []);
  });

  it('carries an intake response that conforms to derm-intake', () => {
    const response = byType('QuestionnaireResponse')[0].resource as QuestionnaireResponse;
    assert.deepEqual(checkQuestionnaireResponse(readQuestionnaire('derm-intake'), response, { valueSets: ourValueSets() }), []);
  });
});
