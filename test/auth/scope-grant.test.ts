import assert from 'node:assert/strict';
import { grantScopes } from '../../src/auth/scope-grant';

describe('scope-grant grantScopes', () => {
  it('grants everything allowed when nothing is requested', () => {
    assert.deepEqual(grantScopes([], ['system/*.cruds', 'openid']), ['system/*.cruds', 'openid']);
  });

  it('grants a requested scope that an allowed wildcard covers, as written', () => {
    assert.deepEqual(grantScopes(['system/Patient.rs', 'system/Observation.read'], ['system/*.cruds']), ['system/Patient.rs', 'system/Observation.read']);
  });

  it('narrows a wider request to the intersection, in v2 syntax', () => {
    assert.deepEqual(grantScopes(['system/*.cruds'], ['system/Patient.rs', 'system/Task.cru']), ['system/Patient.rs', 'system/Task.cru']);
    assert.deepEqual(grantScopes(['system/*.*'], ['system/Patient.read']), ['system/Patient.rs']);
  });

  it('grants nothing across contexts', () => {
    assert.deepEqual(grantScopes(['user/Patient.rs', 'patient/Patient.rs'], ['system/*.cruds']), []);
  });

  it('keeps a requested granular constraint under an unconstrained allowed scope', () => {
    assert.deepEqual(grantScopes(['patient/Observation.rs?category=laboratory'], ['patient/*.rs']), ['patient/Observation.rs?category=laboratory']);
  });

  it('keeps an allowed granular constraint when the request has none', () => {
    assert.deepEqual(grantScopes(['patient/Observation.rs'], ['patient/Observation.r?category=laboratory']), ['patient/Observation.r?category=laboratory']);
  });

  it('grants nothing when requested and allowed constraints differ', () => {
    assert.deepEqual(grantScopes(['patient/Observation.rs?category=vital-signs'], ['patient/Observation.rs?category=laboratory']), []);
  });

  it('grants non-resource scopes only if allowed verbatim', () => {
    assert.deepEqual(grantScopes(['openid', 'launch/patient', 'system/Patient.r'], ['system/*.cruds', 'openid']), ['openid', 'system/Patient.r']);
  });
});
