/**
 * The embedded server's OAuth2 / SMART Backend Services authorization, Medplum-compatible.
 *
 *   const auth = createAuth({ config, db, logger });
 *   app.use(auth.router);                       // /oauth2/token, /.well-known/*, /auth/me
 *   app.use('/fhir/R4', auth.bearer, fhirRoutes); // res.locals.access: AccessContext
 *   authorizeInteraction(res.locals.access, 'Patient', scopeInteractionFor('read'));
 *   await auth.issueAccessToken({ clientId, scopes, fhirUser, patientId }); // tests: act as anyone
 *
 * Keys, clients and used assertion ids live in `auth_*` tables of `db`, so restarts and several
 * processes on one database agree. The demo client from config is (re)registered on every start.
 */
import type { DatabaseSync } from 'node:sqlite';
import type { RequestHandler, Router } from 'express';
import type { Logger } from 'pino';
import type { Config } from '../config/config';
import { issueAccessToken, type AccessTokenGrant, type IssuedAccessToken, type TokenAudience } from './access-token';
import { createMeHandler } from './auth-me';
import { createBearerAuth } from './bearer-auth';
import { createClientAssertionVerifier } from './client-assertion';
import { createClientRegistry, type ClientRegistry } from './client-registry';
import type { AuthEndpoints } from './discovery';
import { createAuthRouter } from './routes';
import { loadOrCreateSigningKeys, type SigningKeys } from './signing-keys';
import { createTokenHandler } from './token-endpoint';

export type { AccessContext, AccessDecision, ScopeInteraction } from './access-context';
export type { AccessTokenGrant, IssuedAccessToken } from './access-token';
export type { ClientRegistration, ClientRegistry, OAuthClient } from './client-registry';
export type { SigningKeys } from './signing-keys';
export { authorizeInteraction, parseResourceScope, scopeInteractionFor, type FhirInteraction } from './smart-scopes';

/** Scopes of the demo client: every interaction on every resource type, server-wide. */
export const DEMO_CLIENT_SCOPES = ['system/*.cruds'];

/** The FHIR base path the tokens are for (their `aud`). */
export const FHIR_BASE_PATH = 'fhir/R4';

export interface AuthDeps {
  readonly config: Config;
  readonly db: DatabaseSync;
  readonly logger?: Pick<Logger, 'info' | 'warn'>;
  /** Token requests per client IP; default 600 a minute, enough for tests and benchmarks. */
  readonly tokenRateLimit?: { readonly limit: number; readonly windowMs: number };
}

export interface Auth {
  /** Mount at the server root. */
  readonly router: Router;
  /** Middleware admitting only valid server-issued bearer tokens; sets `res.locals.access`. */
  readonly bearer: RequestHandler;
  readonly keys: SigningKeys;
  readonly clients: ClientRegistry;
  readonly endpoints: AuthEndpoints;
  /** Mints a token for any principal, with the configured issuer, audience and lifetime. */
  issueAccessToken(grant: AccessTokenGrant): Promise<IssuedAccessToken>;
}

export function createAuth(deps: AuthDeps): Auth {
  const { config, db } = deps;
  const endpoints: AuthEndpoints = {
    issuer: config.baseUrl,
    tokenEndpoint: new URL('oauth2/token', config.baseUrl).href,
    jwksUri: new URL('.well-known/jwks.json', config.baseUrl).href,
  };
  const audience: TokenAudience = {
    issuer: config.baseUrl,
    audience: new URL(FHIR_BASE_PATH, config.baseUrl).href,
    lifetimeSeconds: config.accessTokenLifetimeSeconds,
  };
  const keys = loadOrCreateSigningKeys(db);
  const clients = createClientRegistry(db);
  clients.registerClient({ clientId: config.demoClient.clientId, secret: config.demoClient.clientSecret, name: 'Demo client', scopes: DEMO_CLIENT_SCOPES });

  const issue = (grant: AccessTokenGrant) => issueAccessToken(keys, audience, grant);
  const bearer = createBearerAuth({ keys, audience });
  const tokenHandler = createTokenHandler({
    clients,
    verifyClientAssertion: createClientAssertionVerifier(db, clients, endpoints.tokenEndpoint),
    issueAccessToken: issue,
    logger: deps.logger,
  });
  const router = createAuthRouter({
    endpoints,
    tokenHandler,
    meHandler: createMeHandler(clients),
    bearer,
    jwks: () => keys.jwks(),
    tokenRateLimit: deps.tokenRateLimit ?? { limit: 600, windowMs: 60_000 },
  });
  return { router, bearer, keys, clients, endpoints, issueAccessToken: issue };
}
