import { getStatus, OperationOutcomeError } from '@medplum/core';
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { ResourceValidator } from '../../../src/fhir/validation';
import { createResourceValidator } from '../../../src/fhir/validation';

export const FIXTURE_PROFILES_DIR = join(__dirname, 'fixtures', 'profiles');

let shared: ResourceValidator | undefined;

/** One validator over the fixture profiles for the whole run: building one takes about a second. */
export function fixtureValidator(): ResourceValidator {
  shared ??= createResourceValidator({ profilesDir: FIXTURE_PROFILES_DIR });
  return shared;
}

/** Runs `fn`, which must throw a 400 OperationOutcomeError, and returns its issues. */
export function rejectionIssues(fn: () => void): OperationOutcomeIssue[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof OperationOutcomeError, `expected an OperationOutcomeError, got ${String(err)}`);
    assert.equal(getStatus(err.outcome), 400);
    const issues = err.outcome.issue ?? [];
    assert.ok(issues.length > 0);
    for (const issue of issues) {
      assert.equal(issue.severity, 'error');
    }
    return issues;
  }
  assert.fail('expected the resource to be rejected, but it was accepted');
}

/** The one issue at `expression` (fails if there is none or several). */
export function issueAt(issues: OperationOutcomeIssue[], expression: string): OperationOutcomeIssue {
  const found = issues.filter((i) => i.expression?.includes(expression));
  assert.equal(found.length, 1, `expected one issue at ${expression}, got: ${JSON.stringify(issues, null, 1)}`);
  return found[0];
}
