import { OperationOutcomeError } from '@medplum/core';
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';

type IssueType = OperationOutcomeIssue['code'];

/*
 * Medplum's validator reports nearly everything as `structure`. Clients branch on issue codes
 * (http://hl7.org/fhir/R4/valueset-issue-type.html), so the common cases get the specific one.
 * Matching its messages is brittle by nature; an unknown message keeps Medplum's code, and the
 * tests pin the ones below.
 */
const CODE_BY_MESSAGE: [RegExp, IssueType][] = [
  [/^Missing required property/, 'required'],
  [/^Value did not match expected pattern/, 'value'],
  [/^Invalid \S+ (format|value)$/, 'value'],
  [/^Invalid numeric value|^Expected number to be/, 'value'],
  [/^String must contain non-whitespace content|^String cannot be larger/, 'value'],
];

/** Keeps the errors (Medplum adds warnings), with specific codes, each (code, place, text) once. */
export function normalizeIssues(issues: readonly OperationOutcomeIssue[], profileUrl?: string): OperationOutcomeIssue[] {
  const result: OperationOutcomeIssue[] = [];
  for (const issue of issues) {
    if (issue.severity !== 'error' && issue.severity !== 'fatal') {
      continue;
    }
    const text = issue.details?.text ?? '';
    const code = issue.code === 'structure' ? (CODE_BY_MESSAGE.find(([re]) => re.test(text))?.[1] ?? 'structure') : issue.code;
    result.push({
      ...issue,
      code,
      ...(profileUrl ? { details: { ...issue.details, text: `${text} (profile ${profileUrl})` } } : {}),
    });
  }
  return result;
}

export function dedupeIssues(issues: readonly OperationOutcomeIssue[]): OperationOutcomeIssue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const key = `${issue.code}|${issue.expression?.join(',')}|${issue.details?.text}`;
    if (seen.has(key)) {
      return false;
    }
    seen.add(key);
    return true;
  });
}

/** Issues from a thrown validation error; anything else (a bug, not bad input) is rethrown. */
export function issuesOf(err: unknown): OperationOutcomeIssue[] {
  if (err instanceof OperationOutcomeError) {
    return err.outcome.issue ?? [];
  }
  throw err;
}

export function validationFailed(issues: OperationOutcomeIssue[]): OperationOutcomeError {
  return new OperationOutcomeError({ resourceType: 'OperationOutcome', issue: issues });
}
