import type { Response } from 'express';

/**
 * Errors on non-FHIR, non-OAuth routes, as RFC 9457 problem details with a stable `code`
 * (FHIR routes answer OperationOutcome; OAuth routes answer RFC 6749 error JSON).
 */
export function problem(res: Response, status: number, code: string, detail: string): void {
  res.status(status).type('application/problem+json').send(JSON.stringify({ type: 'about:blank', title: code, status, code, detail }));
}
