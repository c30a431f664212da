import { getStatus, isOperationOutcome, normalizeErrorString, OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome } from '@medplum/fhirtypes';
import type { ErrorRequestHandler, Response } from 'express';
import { PhotoError } from '../images/photo-error';

/**
 * The intake surface answers errors as RFC 9457 problem details with a stable `code`, like every
 * non-FHIR route (src/http/problem.ts), plus `errors`: one entry per problem with the place it
 * is in (a linkId, a part name, a FHIR path) so a form can show it beside the field.
 * https://www.rfc-editor.org/rfc/rfc9457#section-3.2 (extension members)
 */
export interface ProblemItem {
  readonly where?: string;
  readonly message: string;
}

export class IntakeError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    readonly errors: readonly ProblemItem[] = []
  ) {
    super(detail);
    this.name = 'IntakeError';
  }
}

export function sendProblem(res: Response, status: number, code: string, detail: string, errors: readonly ProblemItem[] = []): void {
  const body: Record<string, unknown> = { type: 'about:blank', title: code, status, code, detail };
  if (errors.length > 0) {
    body.errors = errors;
  }
  res.status(status).type('application/problem+json').send(JSON.stringify(body));
}

/** Turns what the handlers and the store throw into problem details; anything else is a 500. */
export function toIntakeError(err: unknown): IntakeError | undefined {
  if (err instanceof IntakeError) {
    return err;
  }
  if (err instanceof PhotoError) {
    return new IntakeError(err.status, err.code, err.message);
  }
  const outcome = outcomeOf(err);
  if (outcome) {
    const status = getStatus(outcome);
    const errors = (outcome.issue ?? []).map((i) => ({ where: i.expression?.[0], message: i.details?.text ?? i.diagnostics ?? i.code }));
    if (status === 401) {
      return new IntakeError(401, 'unauthorized', 'The access token was refused by the case store; sign in again.', errors);
    }
    if (status === 403 || status === 404) {
      // Never say whether a case the caller may not see exists.
      return new IntakeError(404, 'case-not-found', 'No such case, or it is not yours.');
    }
    if (status >= 400 && status < 500) {
      return new IntakeError(status === 412 ? 409 : 422, 'store-rejected', `The case store refused the submission: ${normalizeErrorString(outcome)}`, errors);
    }
  }
  return undefined;
}

function outcomeOf(err: unknown): OperationOutcome | undefined {
  if (err instanceof OperationOutcomeError) {
    return err.outcome;
  }
  if (isOperationOutcome(err)) {
    return err;
  }
  const body = (err as { outcome?: unknown })?.outcome;
  return isOperationOutcome(body) ? body : undefined;
}

export function intakeErrorHandler(logError: (err: unknown) => void): ErrorRequestHandler {
  return (err, _req, res, _next) => {
    const known = toIntakeError(err);
    if (known) {
      sendProblem(res, known.status, known.code, known.message, known.errors);
      return;
    }
    if ((err as { type?: string })?.type === 'entity.too.large') {
      sendProblem(res, 413, 'request-too-large', 'The request body is too large.');
      return;
    }
    if ((err as { type?: string })?.type === 'entity.parse.failed') {
      sendProblem(res, 400, 'invalid-json', 'The request body is not valid JSON.');
      return;
    }
    logError(err);
    sendProblem(res, 500, 'internal', 'Internal server error');
  };
}
