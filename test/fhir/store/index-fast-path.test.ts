/**
 * The index fast path (src/fhir/store/index-fast-path.ts) must give exactly what the FHIRPath
 * engine gives, for every base search parameter it compiles, on every resource the repository
 * holds as an example or fixture (profiles, examples, validation fixtures, bench workloads) and
 * on hand-made edge cases (primitive extensions, two values for one choice element, empty values).
 * Any difference fails.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Resource } from '@medplum/fhirtypes';
import { mixedNdjsonLines } from '../../../bench/workloads/mixed-ndjson';
import { patient, queueTask, rng } from '../../../bench/workloads/fixtures';
import { loadBaseDefinitions } from '../../../src/fhir/definitions';
import { convertValues, evaluateFhirPath, indexedParams } from '../../../src/fhir/store/index-values';

const ROOT = join(__dirname, '..', '..', '..');

function jsonFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      return name === 'node_modules' ? [] : jsonFiles(path);
    }
    return name.endsWith('.json') ? [path] : [];
  });
}

/** A resource and everything nested in it that is a resource too (Bundle entries, contained). */
function withNested(value: unknown, out: Resource[]): void {
  if (Array.isArray(value)) {
    value.forEach((v) => withNested(v, out));
  } else if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if (typeof record.resourceType === 'string') {
      out.push(record as unknown as Resource);
    }
    Object.values(record).forEach((v) => withNested(v, out));
  }
}

function repositoryResources(): Resource[] {
  const out: Resource[] = [];
  for (const file of [...jsonFiles(join(ROOT, 'fhir-profiles')), ...jsonFiles(join(ROOT, 'test'))]) {
    try {
      withNested(JSON.parse(readFileSync(file, 'utf8')), out);
    } catch {
      // not JSON we can read: not a fixture
    }
  }
  for (const line of mixedNdjsonLines(200)) {
    out.push(JSON.parse(line) as Resource);
  }
  const random = rng(3);
  out.push(patient('mrn-1'), ...Array.from({ length: 20 }, (_, i) => queueTask(i, ['p1', 'p2'], random)));
  return out;
}

/** What the fast path must refuse or mirror: primitive extensions, two choice values, empties. */
const EDGE_CASES: Resource[] = [
  { resourceType: 'Patient', birthDate: '1970-01-01', _birthDate: { extension: [{ url: 'urn:x', valueString: 'y' }] } } as Resource,
  { resourceType: 'Patient', _birthDate: { extension: [{ url: 'urn:x', valueString: 'y' }] } } as Resource,
  { resourceType: 'Patient', name: [{ given: ['A', 'B'], _given: [null, { extension: [{ url: 'urn:x', valueString: 'y' }] }] }] } as unknown as Resource,
  { resourceType: 'Patient', name: [], identifier: [{}], address: [{ city: '' }], gender: '' } as unknown as Resource,
  { resourceType: 'Observation', status: 'final', code: {}, effectiveDateTime: '2020-01-01', effectivePeriod: { start: '2019-01-01' } } as Resource,
  { resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueQuantity: { value: 1 }, valueString: 'x' } as Resource,
  { resourceType: 'Observation', status: 'final', code: { coding: [{ code: 'a' }] }, component: [{ code: { coding: [{ code: 'a' }] } }, { code: { coding: [{ code: 'b' }] }, valueQuantity: { value: 2, unit: 'kg' } }] } as Resource,
  { resourceType: 'Condition', subject: { reference: 'Patient/1' }, onsetAge: { value: 3, unit: 'a' }, onsetString: 'child' } as Resource,
  { resourceType: 'Condition', subject: { reference: 'Patient/1' }, onsetRange: { low: { value: 1 } }, recordedDate: '2020' } as Resource,
];

describe('index fast path', () => {
  before(() => loadBaseDefinitions());

  it('gives the FHIRPath engine’s values for every base parameter on every example resource', () => {
    const resources = [...repositoryResources(), ...EDGE_CASES];
    assert.ok(resources.length > 300, `only ${resources.length} resources found`);
    let compared = 0;
    let refused = 0;
    for (const resource of resources) {
      for (const p of indexedParams(resource.resourceType)) {
        if (!p.fastPath) {
          continue;
        }
        const fast = p.fastPath(resource);
        if (fast === undefined) {
          refused++;
          continue;
        }
        const engine = evaluateFhirPath(resource, p);
        const where = `${resource.resourceType}/${resource.id ?? '?'} ${p.code} (${p.atom.toString()})`;
        assert.deepStrictEqual(fast, engine, where);
        assert.deepStrictEqual(convertValues(p, fast), convertValues(p, engine), where);
        compared++;
      }
    }
    assert.ok(compared > 5000, `only ${compared} comparisons`);
    assert.ok(refused > 0, 'the primitive-extension cases must be refused, not guessed');
  });

  it('compiles the common plain paths', () => {
    for (const [type, code] of [
      ['Patient', 'identifier'],
      ['Observation', 'subject'],
      ['Observation', 'code'],
      ['Observation', 'date'],
      ['Condition', 'onset-date'],
      ['Observation', 'combo-value-quantity'],
    ]) {
      assert.ok(indexedParams(type).find((p) => p.code === code)?.fastPath, `${type}.${code}`);
    }
  });
});
