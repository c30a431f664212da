import type { RequestHandler, Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import { sendOutcome, outcomeError } from '../fhir/outcomes';
import { problem } from './problem';

/** How a refusal is written: each surface answers in its own error format. */
export type RefuseWrite = (res: Response) => void;

export const refuseAsOperationOutcome: RefuseWrite = (res) => sendOutcome(res, outcomeError('throttled', 'Too many writes; retry later'), 429);
export const refuseAsProblem: RefuseWrite = (res) => problem(res, 429, 'rate-limited', 'Too many submissions; retry later');

export interface WriteRateLimit {
  /** Writes (POST, PUT, PATCH, DELETE) per principal per window. */
  readonly limit: number;
  readonly windowMs: number;
}

/** Generous for a person (an intake with ten photos is ~15 writes), tight for a script gone wild. */
export const DEFAULT_WRITE_RATE_LIMIT: WriteRateLimit = { limit: 300, windowMs: 60_000 };

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Limits writes (FHIR writes, intake submissions) per acting person (patient or clinician: the token's subject), after the
 * bearer middleware has established who that is. Registered system clients (interface engines,
 * bulk loaders; subject `ClientApplication/...`) are not limited here: they are few, known and
 * configured by the operator. Searches over POST (`_search`, `$graphql` queries) count as writes;
 * that errs on the safe side. The count lives in this process (see SECURITY.md).
 */
export function writeRateLimit(options: WriteRateLimit, bearer: RequestHandler, refuse: RefuseWrite = refuseAsOperationOutcome): RequestHandler {
  const limiter = rateLimit({
    ...options,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    skip: (req, res) => !WRITE_METHODS.has(req.method) || !res.locals.access || res.locals.access.subject.startsWith('ClientApplication/'),
    keyGenerator: (_req, res) => `${res.locals.access?.clientId} ${res.locals.access?.subject}`,
    handler: (_req, res) => refuse(res),
  });
  // Reads pass untouched; a write is authenticated here (a cache hit for the FHIR routes' own check).
  return (req, res, next) => {
    if (!WRITE_METHODS.has(req.method)) {
      next();
      return;
    }
    bearer(req, res, (err?: unknown) => (err ? next(err) : limiter(req, res, next)));
  };
}
