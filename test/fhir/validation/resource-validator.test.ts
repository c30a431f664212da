import { validateResource } from '@medplum/core';
import type { Condition, Media, Observation, Patient, Resource, Task } from '@medplum/fhirtypes';
import assert from 'node:assert/strict';
import type { ResourceValidator } from '../../../src/fhir/validation';
import { releaseCoreDefinitions } from '../../../src/fhir/validation';
import { fixtureValidator, issueAt, rejectionIssues } from './helpers';

const validPatient: Patient = {
  resourceType: 'Patient',
  identifier: [{ system: 'urn:example:mrn', value: '12345' }],
  name: [{ use: 'official', family: 'Lima', given: ['Ana'] }],
  telecom: [{ system: 'phone', value: '+1 555 0100', use: 'mobile' }],
  gender: 'female',
  birthDate: '1984-03-02',
};

const observation: Observation = {
  resourceType: 'Observation',
  status: 'final',
  code: { text: 'Lesion diameter' },
  subject: { reference: 'Patient/1' },
  effectiveDateTime: '2025-01-15T10:00:00Z',
  valueQuantity: { value: 4, unit: 'mm', system: 'http://unitsofmeasure.org', code: 'mm' },
};

// `as unknown as Resource`: these tests send what a client could send, which the types forbid.
function invalid(resource: object): Resource {
  return resource as unknown as Resource;
}

describe('createResourceValidator: base R4 structure', () => {
  let validator: ResourceValidator;
  before(() => {
    validator = fixtureValidator();
  });

  it('accepts a valid Patient', () => {
    validator.validate(validPatient);
  });

  it('rejects birthDate "yesterday" with a 400 pointing at Patient.birthDate', () => {
    const issues = rejectionIssues(() => validator.validate({ ...validPatient, birthDate: 'yesterday' }));
    const issue = issueAt(issues, 'Patient.birthDate');
    assert.equal(issue.code, 'value');
    assert.match(issue.details?.text ?? '', /date/);
  });

  it('rejects an element R4 does not define', () => {
    const issues = rejectionIssues(() => validator.validate(invalid({ ...validPatient, favouriteColour: 'blue' })));
    assert.equal(issueAt(issues, 'Patient.favouriteColour').code, 'structure');
  });

  it('rejects an Observation without status and code, with one "required" issue for each', () => {
    const issues = rejectionIssues(() => validator.validate(invalid({ resourceType: 'Observation', subject: { reference: 'Patient/1' } })));
    assert.equal(issueAt(issues, 'Observation.status').code, 'required');
    assert.equal(issueAt(issues, 'Observation.code').code, 'required');
  });

  it('rejects a value of the wrong JSON type', () => {
    const issues = rejectionIssues(() => validator.validate(invalid({ ...validPatient, active: 'yes' })));
    issueAt(issues, 'Patient.active');
  });

  it('rejects an unknown resourceType', () => {
    rejectionIssues(() => validator.validate(invalid({ resourceType: 'Bogus' })));
  });

  it('reports every problem of a resource in one outcome', () => {
    const issues = rejectionIssues(() => validator.validate(invalid({ resourceType: 'Task', status: 'bogus', intent: 'order', authoredOn: 'soon' })));
    issueAt(issues, 'Task.authoredOn');
    issueAt(issues, 'Task.status');
  });
});

describe('createResourceValidator: required bindings', () => {
  let validator: ResourceValidator;
  before(() => {
    validator = fixtureValidator();
  });

  it('rejects Task.status "bogus" with code-invalid and the allowed codes', () => {
    const task = invalid({ resourceType: 'Task', status: 'bogus', intent: 'order', for: { reference: 'Patient/1' } });
    const issue = issueAt(
      rejectionIssues(() => validator.validate(task)),
      'Task.status'
    );
    assert.equal(issue.code, 'code-invalid');
    assert.match(issue.details?.text ?? '', /"bogus".*http:\/\/hl7\.org\/fhir\/ValueSet\/task-status/);
    assert.match(issue.details?.text ?? '', /allowed: draft, requested, .*in-progress, on-hold.*completed/);
    const diagnostics = JSON.parse(issue.diagnostics ?? '{}') as { allowed?: string[] };
    assert.ok(diagnostics.allowed?.includes('requested'));
    assert.equal(diagnostics.allowed?.includes('bogus'), false);
  });

  it('still rejects a code outside a required binding after the start-up bundles are released', () => {
    // The server releases them once it is up (main.ts): the bindings must have been expanded before.
    releaseCoreDefinitions();
    const issue = issueAt(
      rejectionIssues(() => validator.validate(invalid({ resourceType: 'Observation', status: 'done', code: { text: 'x' } }))),
      'Observation.status'
    );
    assert.equal(issue.code, 'code-invalid');
    const task = invalid({ resourceType: 'Task', status: 'bogus', intent: 'order', for: { reference: 'Patient/1' } });
    assert.match(issueAt(rejectionIssues(() => validator.validate(task)), 'Task.status').details?.text ?? '', /task-status/);
  });

  it('accepts Observation.status "final"', () => {
    validator.validate(observation);
  });

  it('rejects Observation.status "done", which Medplum alone accepts', () => {
    const done = invalid({ ...observation, status: 'done' });
    validateResource(done);
    assert.equal(issueAt(rejectionIssues(() => validator.validate(done)), 'Observation.status').code, 'code-invalid');
  });

  it('accepts every Task status of the e-consult lifecycle', () => {
    for (const status of ['requested', 'accepted', 'in-progress', 'on-hold', 'completed', 'rejected', 'cancelled'] as const) {
      const task: Task = { resourceType: 'Task', status, intent: 'order' };
      validator.validate(task);
    }
  });

  it('checks bindings inside datatypes and arrays, with the index in the expression', () => {
    const patient = invalid({ ...validPatient, name: [{ family: 'A' }, { use: 'nick', family: 'B' }] });
    assert.equal(issueAt(rejectionIssues(() => validator.validate(patient)), 'Patient.name[1].use').code, 'code-invalid');
  });

  it('requires a coding with system and code for a required CodeableConcept binding', () => {
    const condition = (coding: object): Condition =>
      ({ resourceType: 'Condition', subject: { reference: 'Patient/1' }, clinicalStatus: { coding: [coding] } }) as Condition;
    validator.validate(condition({ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }));
    const issue = issueAt(
      rejectionIssues(() => validator.validate(condition({ code: 'active' }))),
      'Condition.clinicalStatus'
    );
    assert.match(issue.details?.text ?? '', /system http:\/\/terminology\.hl7\.org\/CodeSystem\/condition-clinical/);
  });

  it('does not check bindings to value sets it cannot expand offline (mime types)', () => {
    const media: Media = { resourceType: 'Media', status: 'completed', content: { contentType: 'image/x-derm-raw' } };
    validator.validate(media);
    assert.ok(validator.unexpandableValueSets().some((u) => u.url === 'http://hl7.org/fhir/ValueSet/mimetypes'));
  });

  it('expands every base required value set except the few listed as unexpandable', () => {
    const urls = validator.unexpandableValueSets().map((u) => u.url);
    assert.ok(urls.length < 10, `unexpandable: ${urls.join(', ')}`);
    assert.equal(urls.includes('http://hl7.org/fhir/ValueSet/task-status'), false);
  });
});

describe('createResourceValidator: primitive formats Medplum misses', () => {
  let validator: ResourceValidator;
  before(() => {
    validator = fixtureValidator();
  });

  it('rejects a dateTime with a time but no time zone, which Medplum alone accepts', () => {
    const local = { ...observation, effectiveDateTime: '2025-01-15T10:00:00' };
    validateResource(local);
    const issue = issueAt(rejectionIssues(() => validator.validate(local)), 'Observation.effectiveDateTime');
    assert.equal(issue.code, 'value');
    assert.match(issue.details?.text ?? '', /dateTime/);
  });

  it('accepts dateTimes with a time zone and partial dates', () => {
    for (const effectiveDateTime of ['2025-01-15T10:00:00+01:00', '2025-01-15T10:00:00.123Z', '2025-01-15', '2025-01', '2025']) {
      validator.validate({ ...observation, effectiveDateTime });
    }
  });

  it('rejects a resource id with a space, also in a contained resource', () => {
    issueAt(
      rejectionIssues(() => validator.validate({ ...validPatient, id: 'a b' })),
      'Patient.id'
    );
    const contained: Patient = { ...validPatient, contained: [{ resourceType: 'Organization', id: 'org 1', name: 'Clinic' }] };
    issueAt(
      rejectionIssues(() => validator.validate(contained)),
      'Patient.contained[0].id'
    );
  });

  it('accepts strings with non-breaking spaces (JavaScript \\s is wider than the spec regex)', () => {
    validator.validate({ ...validPatient, name: [{ family: 'da\u00a0Silva', given: ['Ana\u2003Maria'] }] });
  });

  it('accepts null in a primitive array when the matching _ array carries the extension', () => {
    const patient = invalid({
      ...validPatient,
      name: [{ family: 'Lima', given: ['Ana', null], _given: [null, { extension: [{ url: 'http://example.org/x', valueString: 'y' }] }] }],
    });
    validator.validate(patient);
  });
});
