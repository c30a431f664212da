/**
 * Discovery documents: what this authorization server supports, stated only where true: a token
 * endpoint for client_credentials, and, only when the development EHR is on, the authorization
 * endpoint (code grant, PKCE S256, refresh tokens, EHR and standalone launch).
 * https://hl7.org/fhir/smart-app-launch/conformance.html#metadata
 * https://www.rfc-editor.org/rfc/rfc8414#section-2
 */
import { CLIENT_ASSERTION_ALGS } from './client-assertion';
import { SUPPORTED_GRANT_TYPES, USER_GRANT_TYPES } from './token-endpoint';

export interface AuthEndpoints {
  /** The server's base URL, also the `iss` of its tokens. */
  readonly issuer: string;
  readonly tokenEndpoint: string;
  readonly jwksUri: string;
  /** Set when the authorization-code flow is on (the development EHR). */
  readonly authorizationEndpoint?: string;
  /** OpenID Connect UserInfo (OIDC Core §5.3), which an identity-provider client of Medplum calls. */
  readonly userinfoEndpoint?: string;
  /** Set when the token endpoint takes the token-exchange grant (external-token-exchange.ts). */
  readonly tokenExchange?: boolean;
}

const TOKEN_EXCHANGE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** The grants the token endpoint takes besides client_credentials and the code flow's. */
function extraGrants(endpoints: AuthEndpoints): string[] {
  return endpoints.tokenExchange ? [TOKEN_EXCHANGE_GRANT_TYPE] : [];
}

const TOKEN_ENDPOINT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'];

// Wildcards stand for every resource type; clients may request any narrower scope. patient/
// scopes grant something only to clients registered with a patient.
const SCOPES_SUPPORTED = ['system/*.cruds', 'user/*.cruds', 'patient/*.cruds', 'system/*.*', 'user/*.*', 'patient/*.*'];
const LAUNCH_SCOPES = ['openid', 'fhirUser', 'launch', 'launch/patient', 'offline_access', 'online_access'];

/**
 * What the code flow adds. Not `sso-openid-connect`: id_tokens are ES256, and SMART requires RS256
 * support for that capability. Not `context-*-encounter`: the development EHR has no encounters
 * to pick (a launch may still carry one).
 */
const LAUNCH_CAPABILITIES = ['launch-ehr', 'launch-standalone', 'context-ehr-patient', 'context-standalone-patient', 'client-public', 'context-banner', 'context-style'];

/**
 * `/.well-known/smart-configuration` (SMART App Launch 2.2 §Metadata). `authorization_endpoint`,
 * `code_challenge_methods_supported` and the launch capabilities are left out on purpose: there is
 * no authorization-code flow here, and listing PKCE methods would claim one.
 */
export function smartConfiguration(endpoints: AuthEndpoints): Record<string, unknown> {
  const base = {
    jwks_uri: endpoints.jwksUri,
    token_endpoint: endpoints.tokenEndpoint,
    grant_types_supported: [...SUPPORTED_GRANT_TYPES, ...extraGrants(endpoints)],
    token_endpoint_auth_methods_supported: TOKEN_ENDPOINT_AUTH_METHODS,
    token_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGS],
    scopes_supported: SCOPES_SUPPORTED,
    capabilities: ['client-confidential-asymmetric', 'client-confidential-symmetric', 'permission-v2', 'permission-v1'],
  };
  if (endpoints.authorizationEndpoint === undefined) {
    return base;
  }
  return {
    ...base,
    authorization_endpoint: endpoints.authorizationEndpoint,
    grant_types_supported: [...SUPPORTED_GRANT_TYPES, ...USER_GRANT_TYPES, ...extraGrants(endpoints)],
    token_endpoint_auth_methods_supported: [...TOKEN_ENDPOINT_AUTH_METHODS, 'none'],
    code_challenge_methods_supported: ['S256'],
    response_types_supported: ['code'],
    scopes_supported: [...SCOPES_SUPPORTED, ...LAUNCH_SCOPES],
    capabilities: [...base.capabilities, ...LAUNCH_CAPABILITIES],
  };
}

/** `/.well-known/openid-configuration`, the RFC 8414 subset that applies (no OpenID Connect login). */
export function openIdConfiguration(endpoints: AuthEndpoints): Record<string, unknown> {
  return {
    issuer: endpoints.issuer,
    jwks_uri: endpoints.jwksUri,
    token_endpoint: endpoints.tokenEndpoint,
    grant_types_supported: [...SUPPORTED_GRANT_TYPES, ...extraGrants(endpoints)],
    token_endpoint_auth_methods_supported: TOKEN_ENDPOINT_AUTH_METHODS,
    token_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGS],
    scopes_supported: SCOPES_SUPPORTED,
    ...(endpoints.userinfoEndpoint === undefined ? {} : { userinfo_endpoint: endpoints.userinfoEndpoint }),
  };
}
