import { getResourceTypes, OperationOutcomeError, validateResource, validateTypedValue } from '@medplum/core';
import type { OperationOutcomeIssue, Patient, Resource, Task } from '@medplum/fhirtypes';
import assert from 'node:assert/strict';
import type { ResourceValidator } from '../../../src/fhir/validation';
import { createResourceValidator } from '../../../src/fhir/validation';
import { loadConformanceResources } from '../../../src/fhir/validation/conformance';
import type { LoadedProfile } from '../../../src/fhir/validation/profiles';
import { loadProfiles } from '../../../src/fhir/validation/profiles';
import { MRN_SYSTEM, profiledPatient, SKIN_TYPE_EXTENSION, TEST_ADULT_PATIENT, TEST_MARITAL_SYSTEM, TEST_PATIENT } from './fixtures/resources';
import { FIXTURE_PROFILES_DIR, fixtureValidator, issueAt, rejectionIssues } from './helpers';

describe('createResourceValidator: profiles in meta.profile', () => {
  let validator: ResourceValidator;
  before(() => {
    validator = fixtureValidator();
  });

  it('knows the fixture resource profiles (differential-only files) and not the extension definition', () => {
    assert.deepEqual(validator.knownProfiles().sort(), [TEST_ADULT_PATIENT, TEST_PATIENT]);
    assert.deepEqual([...(validator.profilesByType().get('Patient') ?? [])].sort(), [TEST_ADULT_PATIENT, TEST_PATIENT]);
  });

  it('accepts a Patient that conforms to the profile', () => {
    validator.validate(profiledPatient());
  });

  it('does not apply a profile the resource does not claim', () => {
    const plain: Patient = { resourceType: 'Patient', gender: 'male' };
    validator.validate(plain);
  });

  it('rejects a Patient without the identifier the profile requires', () => {
    const patient = { ...profiledPatient(), identifier: undefined };
    const issue = issueAt(rejectionIssues(() => validator.validate(patient)), 'Patient.identifier');
    assert.equal(issue.code, 'required');
    assert.match(issue.details?.text ?? '', /test-patient/);
  });

  it('rejects a gender other than the fixed one', () => {
    const issue = issueAt(rejectionIssues(() => validator.validate({ ...profiledPatient(), gender: 'male' })), 'Patient.gender');
    assert.equal(issue.code, 'value');
  });

  it('rejects identifiers none of which is in the required mrn slice', () => {
    const patient = { ...profiledPatient(), identifier: [{ system: 'urn:example:other', value: '1' }] };
    assert.match(issueAt(rejectionIssues(() => validator.validate(patient)), 'Patient.identifier').details?.text ?? '', /slice 'mrn'/);
  });

  it('checks the constraints inside a slice on the value that matches it', () => {
    const patient = { ...profiledPatient(), identifier: [{ system: 'urn:example:other', value: '1' }, { system: MRN_SYSTEM }] };
    assert.equal(issueAt(rejectionIssues(() => validator.validate(patient)), 'Patient.identifier[1].value').code, 'required');
  });

  it('rejects a Patient without the required extension slice', () => {
    issueAt(
      rejectionIssues(() => validator.validate({ ...profiledPatient(), extension: [] })),
      'Patient.extension'
    );
  });

  it('checks an extension slice against its extension definition (value type and binding)', () => {
    const wrongCode = { ...profiledPatient(), extension: [{ url: SKIN_TYPE_EXTENSION, valueCode: 'VII' }] };
    assert.equal(issueAt(rejectionIssues(() => validator.validate(wrongCode)), 'Patient.extension[0].valueCode').code, 'code-invalid');
    const wrongType = { ...profiledPatient(), extension: [{ url: SKIN_TYPE_EXTENSION, valueString: 'III' }] };
    issueAt(
      rejectionIssues(() => validator.validate(wrongType)),
      'Patient.extension[0].valueString'
    );
  });

  it('checks a slice typed with a core HL7 extension against that extension (birthPlace is an Address)', () => {
    const birthPlace = 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace';
    const withBirthPlace = (extension: object): Patient => ({ ...profiledPatient(), extension: [...(profiledPatient().extension ?? []), { url: birthPlace, ...extension }] });
    validator.validate(withBirthPlace({ valueAddress: { city: 'Porto' } }));
    issueAt(
      rejectionIssues(() => validator.validate(withBirthPlace({ valueString: 'Porto' }))),
      'Patient.extension[1].valueString'
    );
  });

  it('enforces a required binding the profile adds, against its own ValueSet', () => {
    validator.validate({ ...profiledPatient(), maritalStatus: { coding: [{ system: TEST_MARITAL_SYSTEM, code: 'single' }] } });
    const patient = { ...profiledPatient(), maritalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'M' }] } };
    const issue = issueAt(rejectionIssues(() => validator.validate(patient)), 'Patient.maritalStatus');
    assert.equal(issue.code, 'code-invalid');
    assert.match(issue.details?.text ?? '', /allowed: single, partnered, married/);
  });

  it('narrows a choice named by type (deceasedBoolean) to that type', () => {
    validator.validate({ ...profiledPatient(), deceasedBoolean: false });
    issueAt(
      rejectionIssues(() => validator.validate({ ...profiledPatient(), deceasedDateTime: '2020-01-01' })),
      'Patient.deceasedDateTime'
    );
  });

  it('evaluates the profile invariants', () => {
    const issue = issueAt(rejectionIssues(() => validator.validate({ ...profiledPatient(), name: undefined })), 'Patient');
    assert.equal(issue.code, 'invariant');
    assert.match(issue.details?.text ?? '', /tp-1/);
  });

  it('enforces a profile on a profile together with its base profile', () => {
    const adult = profiledPatient(TEST_ADULT_PATIENT);
    issueAt(
      rejectionIssues(() => validator.validate(adult)),
      'Patient.birthDate'
    );
    validator.validate({ ...adult, birthDate: '1984-03-02' });
    issueAt(
      rejectionIssues(() => validator.validate({ ...adult, birthDate: '1984-03-02', gender: 'male' })),
      'Patient.gender'
    );
  });

  it('accepts an unknown profile by default, as Medplum does', () => {
    validator.validate({ ...profiledPatient(), meta: { profile: ['http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient'] } });
  });

  it('rejects an unknown profile when told to, but not the base definition of the type', () => {
    const strict = createResourceValidator({ profilesDir: FIXTURE_PROFILES_DIR, rejectUnknownProfiles: true });
    const unknown = { ...profiledPatient(), meta: { profile: ['http://example.org/StructureDefinition/nope'] } };
    assert.equal(issueAt(rejectionIssues(() => strict.validate(unknown)), 'Patient.meta.profile[0]').code, 'not-supported');
    strict.validate({ ...profiledPatient(), meta: { profile: ['http://hl7.org/fhir/StructureDefinition/Patient'] } });
  });

  it('rejects a resource that claims a profile of another resource type', () => {
    const task: Task = { resourceType: 'Task', status: 'requested', intent: 'order', meta: { profile: [TEST_PATIENT] } };
    assert.equal(issueAt(rejectionIssues(() => validator.validate(task)), 'Task.meta.profile[0]').code, 'invalid');
  });

  it('keeps the registered profile schemas out of the resource types Medplum lists', () => {
    assert.ok(getResourceTypes().every((type) => !type.includes('|')));
  });
});

describe('loadProfiles: the registered schema stands in for re-parsing the profile', () => {
  const profile = (): LoadedProfile => {
    const loaded = loadProfiles(loadConformanceResources(FIXTURE_PROFILES_DIR).structureDefinitions).get(TEST_PATIENT);
    assert.ok(loaded);
    return loaded;
  };
  const viaAlias = (p: LoadedProfile, resource: Resource): OperationOutcomeIssue[] => outcomeOf(() => validateTypedValue({ type: p.typeAlias, value: resource }));
  const viaProfile = (p: LoadedProfile, resource: Resource): OperationOutcomeIssue[] =>
    outcomeOf(() => validateResource(resource, { profile: p.structureDefinition }));

  it('gives the same outcome as validateResource(resource, { profile })', () => {
    const p = profile();
    const samples: Resource[] = [
      profiledPatient(),
      { ...profiledPatient(), gender: 'male', identifier: undefined, name: undefined },
      { ...profiledPatient(), identifier: [{ system: 'urn:x', value: '1' }], birthDate: '1984' },
    ];
    for (const resource of samples) {
      assert.deepEqual(viaAlias(p, resource), viaProfile(p, resource));
    }
  });

  it('also enforces a narrowed choice type, which the re-parsing call reads through the base type', () => {
    const p = profile();
    const resource = { ...profiledPatient(), deceasedDateTime: '2020' };
    assert.deepEqual(viaProfile(p, resource), []);
    assert.deepEqual(
      viaAlias(p, resource).map((i) => i.expression?.[0]),
      ['Patient.deceasedDateTime']
    );
  });
});

function outcomeOf(fn: () => OperationOutcomeIssue[]): OperationOutcomeIssue[] {
  try {
    return fn();
  } catch (err) {
    assert.ok(err instanceof OperationOutcomeError);
    return err.outcome.issue ?? [];
  }
}
