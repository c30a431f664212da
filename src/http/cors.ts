import type { RequestHandler } from 'express';
import { problem } from './problem';

/** What a browser app needs to call FHIR: bearer auth, FHIR JSON, conditional requests, photo uploads. */
const ALLOWED_HEADERS = ['Authorization', 'Content-Type', 'Accept', 'If-Match', 'If-None-Exist', 'If-None-Match', 'Prefer', 'X-Security-Context'];
const EXPOSED_HEADERS = ['ETag', 'Location', 'Last-Modified', 'Content-Location', 'RateLimit', 'RateLimit-Policy', 'Retry-After', 'WWW-Authenticate'];
const ALLOWED_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

/**
 * CORS for the configured origins only (https://fetch.spec.whatwg.org/#http-cors-protocol).
 * A listed origin gets its own origin echoed (never `*`: responses carry PHI); any other origin
 * gets no CORS headers, so the browser withholds the response, and its preflight is refused.
 * Requests without `Origin` (servers, curl) are not affected. `/.well-known/*` metadata answers
 * `*` on its own (public discovery).
 */
export function corsForOrigins(origins: readonly string[]): RequestHandler {
  const allowed = new Set(origins);
  return (req, res, next) => {
    const origin = req.headers.origin;
    if (origin === undefined) {
      next();
      return;
    }
    res.vary('Origin');
    const isPreflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    if (!allowed.has(origin)) {
      if (isPreflight) {
        problem(res, 403, 'cors-origin-not-allowed', `Origin ${origin} is not allowed to call this server`);
        return;
      }
      next();
      return;
    }
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS.join(', '));
    if (isPreflight) {
      res.setHeader('Access-Control-Allow-Methods', ALLOWED_METHODS.join(', '));
      res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS.join(', '));
      res.setHeader('Access-Control-Max-Age', '600');
      res.status(204).end();
      return;
    }
    next();
  };
}
