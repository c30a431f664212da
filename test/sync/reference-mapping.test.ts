import assert from 'node:assert/strict';
import type { Condition } from '@medplum/fhirtypes';
import { mapResource, parseReference } from '../../src/sync/reference-mapping';

describe('reference-mapping', () => {
  const logical = (type: string): string => `urn:test:${type}`;

  it('parses relative, absolute and versioned references', () => {
    assert.deepEqual(parseReference('Patient/123'), ['Patient', '123']);
    assert.deepEqual(parseReference('https://ehr.example.org/fhir/Patient/123/_history/2', 'https://ehr.example.org/fhir/'), ['Patient', '123']);
    assert.equal(parseReference('urn:uuid:abc'), undefined);
  });

  it('maps synced references, turns the rest into logical references, and drops server metadata', () => {
    const condition: Condition = {
      resourceType: 'Condition',
      id: 'ehr-cond-1',
      meta: { versionId: '7', lastUpdated: '2026-01-01T00:00:00Z', profile: ['http://example.org/p'] },
      subject: { reference: 'https://ehr.example.org/fhir/Patient/p1' },
      recorder: { reference: 'Practitioner/dr-9', display: 'Dr Nine' },
      evidence: [{ detail: [{ reference: '#obs' }] }],
    };
    const mapped = mapResource(condition, (type, id) => (type === 'Patient' && id === 'p1' ? 'Patient/store-1' : undefined), logical, 'https://ehr.example.org/fhir');
    assert.equal(mapped.id, undefined);
    assert.deepEqual(mapped.meta, { profile: ['http://example.org/p'] });
    assert.deepEqual(mapped.subject, { reference: 'Patient/store-1' });
    assert.deepEqual(mapped.recorder, { display: 'Dr Nine', type: 'Practitioner', identifier: { system: 'urn:test:Practitioner', value: 'dr-9' } });
    assert.deepEqual(mapped.evidence, [{ detail: [{ reference: '#obs' }] }], 'contained references stay');
    assert.equal(condition.subject?.reference, 'https://ehr.example.org/fhir/Patient/p1', 'the input is not modified');
  });
});
