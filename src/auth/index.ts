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
import { createAuthorizationStore, type AuthorizationStore, type LaunchContext } from './authorization-store';
import { createAuthorizeHandler, type UserDirectory } from './authorize-endpoint';
import type { AuditSink } from '../audit/audit-entry';
import { createExternalTokenExchange } from './external-token-exchange';
import type { PractitionerLookup } from './fhir-user-directory';
import { createUserInfoHandler } from './userinfo-endpoint';

export type { AccessContext, AccessDecision, ScopeInteraction } from './access-context';
export type { AccessTokenGrant, IssuedAccessToken } from './access-token';
export type { ClientRegistration, ClientRegistry, OAuthClient } from './client-registry';
export type { SigningKeys } from './signing-keys';
export type { LaunchContext } from './authorization-store';
export type { DirectoryEntry, UserDirectory } from './authorize-endpoint';
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
  /** Demo users for the development EHR's sign-in page (needed when `config.smart.devEhr`). */
  readonly directory?: UserDirectory & PractitionerLookup;
  /** Where the token-exchange grant records its grants and refusals. */
  readonly audit?: AuditSink;
  /** Clock for codes, launches and refresh tokens (tests move it to expire them). */
  readonly now?: () => number;
}

/** Lifetimes of the code flow's short-lived artefacts. */
export const AUTHORIZATION_CODE_LIFETIME_SECONDS = 60;
export const LAUNCH_LIFETIME_SECONDS = 300;
export const REFRESH_TOKEN_LIFETIME_SECONDS = 12 * 3600;
/** Scopes the review app may be granted at the embedded server. */
export const REVIEW_APP_SCOPES = ['openid', 'fhirUser', 'launch', 'launch/patient', 'offline_access', 'online_access', 'user/*.cruds', 'patient/*.cruds'];

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
  /** EHR launch contexts, codes and refresh tokens. */
  readonly authorizations: AuthorizationStore;
  /** Stores an EHR launch context; the returned `launch` goes to the app with `iss`. */
  createLaunch(context: LaunchContext): string;
  /** The embedded server's FHIR base URL (`aud` of its tokens, `iss` of its launches). */
  readonly fhirBaseUrl: string;
}

export function createAuth(deps: AuthDeps): Auth {
  const { config, db } = deps;
  let endpoints: AuthEndpoints = {
    issuer: config.baseUrl,
    tokenEndpoint: new URL('oauth2/token', config.baseUrl).href,
    jwksUri: new URL('.well-known/jwks.json', config.baseUrl).href,
    ...(deps.directory ? { userinfoEndpoint: new URL('oauth2/userinfo', config.baseUrl).href } : {}),
    tokenExchange: deps.directory !== undefined && config.smart.ehrs.some((e) => e.tokenExchange?.userInfoUrl !== undefined),
  };
  const audience: TokenAudience = {
    issuer: config.baseUrl,
    audience: new URL(FHIR_BASE_PATH, config.baseUrl).href,
    lifetimeSeconds: config.accessTokenLifetimeSeconds,
  };
  const keys = loadOrCreateSigningKeys(db);
  const clients = createClientRegistry(db);
  clients.registerClient({ clientId: config.demoClient.clientId, secret: config.demoClient.clientSecret, name: 'Demo client', scopes: DEMO_CLIENT_SCOPES });
  const devEhr = config.smart.devEhr;
  if (devEhr) {
    // The review app at this server: a public browser client (no secret can be kept in a browser).
    clients.registerClient({
      clientId: config.smart.clientId,
      name: 'dermbridge review app',
      scopes: REVIEW_APP_SCOPES,
      redirectUris: [new URL('smart/index.html', config.baseUrl).href],
      isPublic: true,
    });
    endpoints = { ...endpoints, authorizationEndpoint: new URL('oauth2/authorize', config.baseUrl).href };
  }
  const authorizations = createAuthorizationStore(db, deps.now);

  const issue = (grant: AccessTokenGrant) => issueAccessToken(keys, audience, grant);
  const bearer = createBearerAuth({ keys, audience });
  const tokenHandler = createTokenHandler({
    clients,
    verifyClientAssertion: createClientAssertionVerifier(db, clients, endpoints.tokenEndpoint),
    issueAccessToken: issue,
    logger: deps.logger,
    codeGrant: devEhr
      ? {
          store: authorizations,
          keys,
          issuer: config.baseUrl,
          issueAccessToken: issue,
          refreshTokenLifetimeSeconds: REFRESH_TOKEN_LIFETIME_SECONDS,
          smartStyleUrl: new URL('smart/ehr-style.json', config.baseUrl).href,
        }
      : undefined,
    // The Medplum-style exchange, when some EHR's exchange client is played here (it has a userInfoUrl).
    tokenExchange:
      deps.directory && endpoints.tokenExchange
        ? createExternalTokenExchange({ ehrs: config.smart.ehrs, directory: deps.directory, issueAccessToken: issue, audit: deps.audit, logger: deps.logger })
        : undefined,
  });
  const authorizeHandler =
    devEhr && deps.directory
      ? createAuthorizeHandler({
          clients,
          store: authorizations,
          directory: deps.directory,
          fhirBaseUrl: audience.audience,
          codeLifetimeSeconds: AUTHORIZATION_CODE_LIFETIME_SECONDS,
        })
      : undefined;
  const router = createAuthRouter({
    endpoints,
    tokenHandler,
    meHandler: createMeHandler(clients),
    bearer,
    jwks: () => keys.jwks(),
    tokenRateLimit: deps.tokenRateLimit ?? { limit: 600, windowMs: 60_000 },
    authorizeHandler,
    fhirBasePath: '/' + FHIR_BASE_PATH,
    userInfoHandler: deps.directory
      ? createUserInfoHandler({ fhirBaseUrl: audience.audience, emailOf: (reference) => (deps.directory as PractitionerLookup).emailOf(reference) })
      : undefined,
  });
  return {
    router,
    bearer,
    keys,
    clients,
    endpoints,
    issueAccessToken: issue,
    authorizations,
    createLaunch: (context) => authorizations.createLaunch(context, LAUNCH_LIFETIME_SECONDS),
    fhirBaseUrl: audience.audience,
  };
}
