import type { RequestHandler } from 'express';
import { problem } from './problem';

/**
 * Production answers for the embedded server's surfaces (FHIR, OAuth, JWKS, SMART discovery): a
 * 404 that says where they are, rather than a bare "no route", so a client configured for the
 * embedded server learns that its base URL must now be Medplum's.
 */
export function servedByMedplum(medplumUrl: string): RequestHandler {
  return (req, res) => {
    problem(
      res,
      404,
      'served-by-medplum',
      `${req.originalUrl.split('?')[0]} is not served by dermbridge when Medplum is the case store: use Medplum at ${medplumUrl} (tokens come from its /oauth2/token)`
    );
  };
}
