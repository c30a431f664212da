import type { OperationOutcome } from '@medplum/fhirtypes';
import { badRequest, getStatus, normalizeOperationOutcome, OperationOutcomeError } from '@medplum/core';
import type { ErrorRequestHandler, Response } from 'express';

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/** An OperationOutcome with one error issue, for statuses @medplum/core has no helper for. */
export function outcomeError(code: string, text: string, expression?: string): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: code as 'invalid', details: { text }, ...(expression ? { expression: [expression] } : {}) }],
  };
}

export function unsupportedMediaType(contentType: string): OperationOutcomeError {
  const outcome = outcomeError('not-supported', `Content-Type "${contentType}" is not supported; send application/fhir+json`);
  return new OperationOutcomeError(outcome);
}

export function sendOutcome(res: Response, outcome: OperationOutcome, status = getStatus(outcome)): void {
  res.status(status).type(FHIR_JSON).send(JSON.stringify(outcome));
}

/**
 * The one error handler for the FHIR surface: everything (body parser errors, thrown outcomes,
 * bugs) leaves as an OperationOutcome with the right status, and nothing takes the process down.
 */
export function fhirErrorHandler(log: (err: unknown) => void): ErrorRequestHandler {
  return (err: unknown, _req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const httpErr = err as { type?: string; status?: number; limit?: number; message?: string };
    if (httpErr.type === 'entity.too.large') {
      sendOutcome(res, outcomeError('too-costly', `Request body is larger than the limit of ${httpErr.limit ?? '?'} bytes`), 413);
      return;
    }
    if (httpErr.type === 'entity.parse.failed') {
      sendOutcome(res, badRequest('Malformed JSON: ' + (httpErr.message ?? 'parse error')), 400);
      return;
    }
    if (typeof httpErr.status === 'number' && httpErr.status >= 400 && httpErr.status < 500 && !(err instanceof OperationOutcomeError)) {
      sendOutcome(res, outcomeError('invalid', httpErr.message ?? 'Bad request'), httpErr.status);
      return;
    }
    if (!(err instanceof OperationOutcomeError)) {
      // A bug, not bad input: log it, and tell the client nothing about internals.
      log(err);
      sendOutcome(res, outcomeError('exception', 'Internal server error'), 500);
      return;
    }
    sendOutcome(res, normalizeOperationOutcome(err), getStatus(err.outcome));
  };
}
