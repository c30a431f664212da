/**
 * Wiring only: the auth concern's paths and their handlers.
 *   POST /oauth2/token                   token endpoint (rate-limited, form-encoded)
 *   GET|POST /oauth2/authorize           authorization-code grant (only with the development EHR)
 *   GET  /.well-known/jwks.json          the server's public signing keys
 *   GET  /.well-known/smart-configuration SMART discovery (also at {FHIR base}/.well-known/, where apps look)
 *   GET  /.well-known/openid-configuration RFC 8414 metadata
 *   GET  /auth/me                        Medplum session details (bearer-protected)
 *   GET  /oauth2/userinfo                OpenID Connect UserInfo (bearer-protected)
 */
import express, { Router, type ErrorRequestHandler, type RequestHandler, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import { openIdConfiguration, smartConfiguration, type AuthEndpoints } from './discovery';
import { OAuthError, sendOAuthError } from './oauth-error';

export interface AuthRouterDeps {
  readonly endpoints: AuthEndpoints;
  readonly tokenHandler: RequestHandler;
  readonly meHandler: RequestHandler;
  readonly bearer: RequestHandler;
  readonly jwks: () => object;
  readonly tokenRateLimit: { readonly limit: number; readonly windowMs: number };
  readonly authorizeHandler?: RequestHandler;
  /** Path of the FHIR base (`/fhir/R4`): SMART apps discover at `{iss}/.well-known/smart-configuration`. */
  readonly fhirBasePath: string;
  readonly userInfoHandler?: RequestHandler;
}

export function createAuthRouter(deps: AuthRouterDeps): Router {
  const router = Router();
  const tokenLimiter = rateLimit({
    ...deps.tokenRateLimit,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (_req, res) => sendOAuthError(res, new OAuthError('temporarily_unavailable', 'Too many token requests; retry later')),
  });
  // Client assertions are ~1 kB; a small limit keeps the unauthenticated endpoint cheap.
  const form = express.urlencoded({ extended: false, limit: '16kb' });

  router.post('/oauth2/token', tokenLimiter, form, deps.tokenHandler, formErrorAsOAuthError);
  router.get('/.well-known/jwks.json', (_req, res) => sendPublic(res, deps.jwks()));
  router.get(['/.well-known/smart-configuration', `${deps.fhirBasePath}/.well-known/smart-configuration`], (_req, res) =>
    sendPublic(res, smartConfiguration(deps.endpoints)),
  );
  if (deps.authorizeHandler) {
    router.get('/oauth2/authorize', tokenLimiter, deps.authorizeHandler);
    router.post('/oauth2/authorize', tokenLimiter, form, deps.authorizeHandler);
  }
  router.get('/.well-known/openid-configuration', (_req, res) => sendPublic(res, openIdConfiguration(deps.endpoints)));
  router.get('/auth/me', deps.bearer, deps.meHandler);
  if (deps.userInfoHandler) {
    router.get('/oauth2/userinfo', deps.bearer, deps.userInfoHandler);
  }
  return router;
}

/** A body the form parser rejects (too large, bad charset) still gets an OAuth error, not HTML. */
const formErrorAsOAuthError: ErrorRequestHandler = (err: { status?: number; message?: string }, _req, res, next) => {
  if (res.headersSent || err.status === undefined || err.status >= 500) {
    next(err);
    return;
  }
  sendOAuthError(res, new OAuthError('invalid_request', `Unreadable token request body: ${err.message ?? 'parse error'}`));
};

/** Public metadata: any origin may read it (browser apps discover the server cross-origin). */
function sendPublic(res: Response, body: object): void {
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.json(body);
}
