/**
 * `POST /oauth2/token`, `client_credentials` grant (SMART Backend Services), with client
 * authentication by secret (HTTP Basic or form body) or by signed JWT (`private_key_jwt`); and,
 * when the authorization endpoint is on, `authorization_code` and `refresh_token` (code-grant.ts);
 * when some EHR has a token-exchange client, Medplum's token exchange (external-token-exchange.ts).
 * https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 * https://hl7.org/fhir/smart-app-launch/backend-services.html#obtain-access-token
 */
import type { Request, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { subjectOf, type AccessTokenGrant, type IssuedAccessToken } from './access-token';
import { CLIENT_ASSERTION_TYPE, type ClientAssertionVerifier } from './client-assertion';
import type { ClientRegistry, OAuthClient } from './client-registry';
import { OAuthError, sendOAuthError } from './oauth-error';
import { PROJECT_REFERENCE } from './project';
import { grantScopes } from './scope-grant';
import { redeemAuthorizationCode, redeemRefreshToken, type CodeGrantDeps, type UserTokenResponse } from './code-grant';
import { TOKEN_EXCHANGE_GRANT, type ExchangedTokenResponse, type ExternalTokenExchange } from './external-token-exchange';

export const SUPPORTED_GRANT_TYPES = ['client_credentials'] as const;
/** With the authorization endpoint (SMART App Launch). */
export const USER_GRANT_TYPES = ['authorization_code', 'refresh_token'] as const;

export interface TokenEndpointDeps {
  readonly clients: ClientRegistry;
  readonly verifyClientAssertion: ClientAssertionVerifier;
  readonly issueAccessToken: (grant: AccessTokenGrant) => Promise<IssuedAccessToken>;
  readonly logger?: Pick<Logger, 'info' | 'warn'>;
  /** Enables the authorization_code and refresh_token grants. */
  readonly codeGrant?: CodeGrantDeps;
  /** Enables the token-exchange grant (RFC 8693, as Medplum implements it). */
  readonly tokenExchange?: ExternalTokenExchange;
}

/**
 * The successful token response (RFC 6749 §5.1), plus SMART's `patient` launch context and
 * Medplum's `project` and `profile` references (MedplumClient stores them as its active login).
 */
export interface TokenResponse {
  readonly access_token: string;
  readonly token_type: 'Bearer';
  readonly expires_in: number;
  readonly scope: string;
  readonly patient?: string;
  readonly project: { readonly reference: string; readonly display: string };
  readonly profile: { readonly reference: string };
}

type FormParams = Readonly<Record<string, string | undefined>>;

export function createTokenHandler(deps: TokenEndpointDeps): RequestHandler {
  return async (req, res) => {
    try {
      const response = await handleTokenRequest(deps, formParams(req), req.headers.authorization, req.ip);
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('Pragma', 'no-cache');
      res.json(response);
    } catch (err) {
      if (!(err instanceof OAuthError)) {
        throw err;
      }
      deps.logger?.warn({ error: err.error, reason: err.description }, 'token request refused');
      sendOAuthError(res, err);
    }
  };
}

/** The token endpoint without HTTP: form parameters and the Authorization header in, a token out. */
export async function handleTokenRequest(
  deps: TokenEndpointDeps,
  params: FormParams,
  authorization: string | undefined,
  sourceAddress?: string,
): Promise<TokenResponse | UserTokenResponse | ExchangedTokenResponse> {
  const grantType = params.grant_type;
  if (grantType === undefined) {
    throw new OAuthError('invalid_request', 'grant_type is required');
  }
  if (grantType === TOKEN_EXCHANGE_GRANT && deps.tokenExchange) {
    return deps.tokenExchange(params, sourceAddress);
  }
  const supported: readonly string[] = deps.codeGrant ? [...SUPPORTED_GRANT_TYPES, ...USER_GRANT_TYPES] : SUPPORTED_GRANT_TYPES;
  if (!supported.includes(grantType)) {
    throw new OAuthError('unsupported_grant_type', `grant_type ${grantType} is not supported; use ${supported.join(', ')}`);
  }
  if (deps.codeGrant && grantType !== 'client_credentials') {
    const client = await identifyUserGrantClient(deps, params, authorization);
    const response = grantType === 'authorization_code' ? await redeemAuthorizationCode(deps.codeGrant, params, client) : await redeemRefreshToken(deps.codeGrant, params, client);
    deps.logger?.info({ clientId: client.clientId, grantType, scope: response.scope }, 'access token issued');
    return response;
  }
  const client = await authenticateClient(deps, params, authorization);
  if (client.isPublic) {
    throw new OAuthError('unauthorized_client', 'A public client may only use the authorization_code grant');
  }
  const requested = (params.scope ?? '').split(' ').filter(Boolean);
  const scopes = grantScopes(requested, client.scopes);
  if (scopes.length === 0) {
    throw new OAuthError('invalid_scope', `None of the requested scopes is allowed for client ${client.clientId}`);
  }
  const issued = await deps.issueAccessToken({ clientId: client.clientId, scopes, fhirUser: client.fhirUser, patientId: client.patientId });
  deps.logger?.info({ clientId: client.clientId, scope: issued.scope, tokenId: issued.tokenId }, 'access token issued');
  return {
    access_token: issued.accessToken,
    token_type: 'Bearer',
    expires_in: issued.expiresIn,
    scope: issued.scope,
    project: PROJECT_REFERENCE,
    profile: { reference: subjectOf(client) },
    ...(client.patientId === undefined ? {} : { patient: client.patientId }),
  };
}

/**
 * Exactly one client authentication method per request (RFC 6749 §2.3): HTTP Basic
 * (client_secret_basic), `client_id` + `client_secret` in the body (client_secret_post), or
 * `client_assertion` (private_key_jwt).
 */
async function authenticateClient(deps: TokenEndpointDeps, params: FormParams, authorization: string | undefined): Promise<OAuthClient> {
  const basic = basicCredentials(authorization);
  const methods = [basic !== undefined, params.client_secret !== undefined, params.client_assertion !== undefined];
  if (methods.filter(Boolean).length > 1) {
    throw new OAuthError('invalid_request', 'Use exactly one client authentication method');
  }
  if (basic) {
    if (params.client_id !== undefined && !basic.some((c) => c.clientId === params.client_id)) {
      throw new OAuthError('invalid_request', 'client_id does not match the Authorization header');
    }
    return authenticateWithSecret(deps, basic, true);
  }
  if (params.client_secret !== undefined) {
    if (params.client_id === undefined) {
      throw new OAuthError('invalid_client', 'client_secret needs a client_id');
    }
    return authenticateWithSecret(deps, [{ clientId: params.client_id, secret: params.client_secret }], false);
  }
  if (params.client_assertion !== undefined) {
    if (params.client_assertion_type !== CLIENT_ASSERTION_TYPE) {
      throw new OAuthError('invalid_request', `client_assertion_type must be ${CLIENT_ASSERTION_TYPE}`);
    }
    return deps.verifyClientAssertion(params.client_assertion, params.client_id);
  }
  throw new OAuthError('invalid_client', 'Client authentication required: client_secret_basic, client_secret_post or private_key_jwt');
}

/**
 * Who is redeeming a code or refresh token: a public client names itself (`client_id`, no
 * credentials; PKCE or the rotating refresh token is its proof), a confidential one must
 * authenticate exactly as for client_credentials.
 */
async function identifyUserGrantClient(deps: TokenEndpointDeps, params: FormParams, authorization: string | undefined): Promise<OAuthClient> {
  const hasCredentials = authorization !== undefined || params.client_secret !== undefined || params.client_assertion !== undefined;
  if (hasCredentials) {
    return authenticateClient(deps, params, authorization);
  }
  const client = params.client_id === undefined ? undefined : deps.clients.findClient(params.client_id);
  if (!client) {
    throw new OAuthError('invalid_client', 'Unknown client; a public client must send client_id');
  }
  if (!client.isPublic) {
    throw new OAuthError('invalid_client', `Client ${client.clientId} is confidential and must authenticate`);
  }
  return client;
}

interface SecretCredentials {
  readonly clientId: string;
  readonly secret: string;
}

async function authenticateWithSecret(deps: TokenEndpointDeps, candidates: readonly SecretCredentials[], viaHeader: boolean): Promise<OAuthClient> {
  for (const { clientId, secret } of candidates) {
    const client = await deps.clients.authenticateWithSecret(clientId, secret);
    if (client) {
      return client;
    }
  }
  throw new OAuthError('invalid_client', 'Unknown client or wrong client secret', viaHeader);
}

/**
 * `Authorization: Basic base64(client_id:client_secret)`. RFC 6749 §2.3.1 form-encodes both parts
 * first, but many clients (MedplumClient among them) do not, so the credentials are tried as sent
 * and, when different, form-decoded. Other schemes are ignored.
 */
function basicCredentials(header: string | undefined): SecretCredentials[] | undefined {
  const match = header === undefined ? null : /^Basic +([A-Za-z0-9+/]+=*)\s*$/i.exec(header);
  if (!match) {
    if (header !== undefined && /^Basic\b/i.test(header)) {
      throw new OAuthError('invalid_client', 'Malformed Basic Authorization header', true);
    }
    return undefined;
  }
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) {
    throw new OAuthError('invalid_client', 'Malformed Basic Authorization header', true);
  }
  const raw = { clientId: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
  const formDecoded = { clientId: formDecode(raw.clientId), secret: formDecode(raw.secret) };
  const differs = formDecoded.clientId !== raw.clientId || formDecoded.secret !== raw.secret;
  return differs ? [raw, formDecoded] : [raw];
}

function formDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
}

/** The urlencoded body; anything else, or a repeated parameter (RFC 6749 §3.2), is refused. */
function formParams(req: Request): FormParams {
  if (!req.is('application/x-www-form-urlencoded') || typeof req.body !== 'object' || req.body === null) {
    throw new OAuthError('invalid_request', 'The token request must be application/x-www-form-urlencoded');
  }
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.body as Record<string, unknown>)) {
    if (typeof value !== 'string') {
      throw new OAuthError('invalid_request', `Parameter ${name} must appear once`);
    }
    params[name] = value;
  }
  return params;
}
