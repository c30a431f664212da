import assert from 'node:assert/strict';
import type { AccessContext } from '../../src/auth/access-context';
import { authorizeInteraction, formatResourceScope, parseResourceScope, scopeInteractionFor } from '../../src/auth/smart-scopes';

function access(scopes: string[], patientId?: string): AccessContext {
  return { clientId: 'c', subject: 'ClientApplication/c', scopes, patientId, tokenId: 't' };
}

describe('smart-scopes parseResourceScope', () => {
  it('parses a v2 scope into context, type and permissions', () => {
    const scope = parseResourceScope('patient/Observation.rs');
    assert.equal(scope?.context, 'patient');
    assert.equal(scope?.resourceType, 'Observation');
    assert.deepEqual([...(scope?.interactions ?? [])].sort(), ['r', 's']);
    assert.equal(scope?.syntax, 'v2');
  });

  it('maps v1 read to r+s, write to c+u+d and * to cruds', () => {
    assert.deepEqual([...(parseResourceScope('user/Patient.read')?.interactions ?? [])].sort(), ['r', 's']);
    assert.deepEqual([...(parseResourceScope('user/Patient.write')?.interactions ?? [])].sort(), ['c', 'd', 'u']);
    assert.deepEqual([...(parseResourceScope('system/*.*')?.interactions ?? [])].sort(), ['c', 'd', 'r', 's', 'u']);
  });

  it('keeps a granular search constraint as the query', () => {
    const scope = parseResourceScope('patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory');
    assert.equal(scope?.query, 'category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory');
  });

  it('rejects permissions out of cruds order, unknown contexts, lower-case types and v1 with a query', () => {
    for (const bad of ['patient/Observation.sr', 'patient/Observation.rr', 'admin/Patient.r', 'user/patient.r', 'user/Patient.read?x=y', 'user/Patient.', 'user/Patient.rs?', 'user/Patient.rs?novalue', 'openid', 'launch/patient']) {
      assert.equal(parseResourceScope(bad), undefined, bad);
    }
  });

  it('formats scopes in v2 syntax with permissions in cruds order', () => {
    assert.equal(formatResourceScope({ context: 'system', resourceType: '*', interactions: new Set(['s', 'c', 'r']) }), 'system/*.crs');
  });
});

describe('smart-scopes scopeInteractionFor', () => {
  it('maps read, vread and history to r, search to s, create to c, update and patch to u, delete to d', () => {
    assert.deepEqual(
      (['read', 'vread', 'history', 'search', 'create', 'update', 'patch', 'delete'] as const).map(scopeInteractionFor),
      ['r', 'r', 'r', 's', 'c', 'u', 'u', 'd'],
    );
  });
});

describe('smart-scopes authorizeInteraction', () => {
  it('allows a system wildcard scope without a compartment', () => {
    assert.deepEqual(authorizeInteraction(access(['system/*.cruds']), 'Patient', 'd'), { allowed: true });
  });

  it('denies an interaction the scope does not list', () => {
    const decision = authorizeInteraction(access(['system/Patient.rs']), 'Patient', 'u');
    assert.equal(decision.allowed, false);
  });

  it('denies a resource type the scope does not name', () => {
    assert.equal(authorizeInteraction(access(['user/Patient.cruds']), 'Observation', 'r').allowed, false);
  });

  it('limits patient scopes to the patient compartment', () => {
    assert.deepEqual(authorizeInteraction(access(['patient/*.rs'], 'a'), 'Observation', 's'), { allowed: true, compartment: 'Patient/a' });
  });

  it('denies patient scopes when the token has no patient in context', () => {
    const decision = authorizeInteraction(access(['patient/*.cruds']), 'Observation', 'r');
    assert.equal(decision.allowed, false);
    assert.match(decision.allowed ? '' : decision.reason, /no patient in context/);
  });

  it('lets a user scope win over a patient scope that covers the same request', () => {
    assert.deepEqual(authorizeInteraction(access(['patient/Observation.rs', 'user/Observation.rs'], 'a'), 'Observation', 'r'), { allowed: true });
  });

  it('uses the patient scope when the user scope covers a different interaction', () => {
    assert.deepEqual(authorizeInteraction(access(['patient/Observation.cruds', 'user/Observation.rs'], 'a'), 'Observation', 'c'), {
      allowed: true,
      compartment: 'Patient/a',
    });
  });

  it('honours v1 scopes the same way as v2', () => {
    assert.deepEqual(authorizeInteraction(access(['patient/Observation.read'], 'a'), 'Observation', 's'), { allowed: true, compartment: 'Patient/a' });
    assert.equal(authorizeInteraction(access(['patient/Observation.read'], 'a'), 'Observation', 'c').allowed, false);
    assert.deepEqual(authorizeInteraction(access(['user/*.write']), 'Task', 'u'), { allowed: true });
  });

  it('returns granular constraints as filters, one per covering scope', () => {
    const decision = authorizeInteraction(access(['patient/Observation.rs?category=laboratory', 'patient/Observation.rs?category=vital-signs'], 'a'), 'Observation', 's');
    assert.deepEqual(decision, { allowed: true, compartment: 'Patient/a', filters: ['category=laboratory', 'category=vital-signs'] });
  });

  it('drops filters when an unconstrained scope also covers the request', () => {
    assert.deepEqual(authorizeInteraction(access(['user/Observation.rs?category=laboratory', 'user/Observation.rs']), 'Observation', 'r'), { allowed: true });
  });

  it('prefers the unfiltered patient compartment over a filtered user scope', () => {
    assert.deepEqual(authorizeInteraction(access(['patient/Observation.rs', 'user/Observation.rs?category=laboratory'], 'a'), 'Observation', 'r'), {
      allowed: true,
      compartment: 'Patient/a',
    });
  });

  it('ignores non-resource and malformed scopes', () => {
    assert.equal(authorizeInteraction(access(['openid', 'fhirUser', 'launch/patient', 'system/Patient.sr']), 'Patient', 'r').allowed, false);
  });

  it('denies everything to a token with no scopes', () => {
    assert.equal(authorizeInteraction(access([]), 'Patient', 'r').allowed, false);
  });
});
