/**
 * The `authorization_code` and `refresh_token` grants of `POST /oauth2/token` (SMART App Launch).
 * Public clients identify themselves with `client_id` and prove possession with the PKCE verifier;
 * confidential clients also authenticate (secret or signed JWT) as for client_credentials.
 * https://hl7.org/fhir/smart-app-launch/app-launch.html#obtain-access-token
 * https://hl7.org/fhir/smart-app-launch/app-launch.html#refresh-access-token
 * https://www.rfc-editor.org/rfc/rfc6749#section-4.1.3
 */
import { SignJWT } from 'jose';
import type { AccessTokenGrant, IssuedAccessToken } from './access-token';
import type { AuthorizationStore, LaunchContext, RefreshGrant } from './authorization-store';
import type { OAuthClient } from './client-registry';
import { OAuthError } from './oauth-error';
import { verifyCodeVerifier } from './pkce';
import type { SigningKeys } from './signing-keys';

export interface CodeGrantDeps {
  readonly store: AuthorizationStore;
  readonly keys: SigningKeys;
  readonly issuer: string;
  readonly issueAccessToken: (grant: AccessTokenGrant) => Promise<IssuedAccessToken>;
  readonly refreshTokenLifetimeSeconds: number;
  /** SMART `smart_style_url`: how the EHR looks, for the app to match. */
  readonly smartStyleUrl?: string;
}

/** The token response of a user-facing grant: SMART launch context next to the token. */
export interface UserTokenResponse {
  readonly access_token: string;
  readonly token_type: 'Bearer';
  readonly expires_in: number;
  readonly scope: string;
  readonly refresh_token?: string;
  readonly id_token?: string;
  readonly patient?: string;
  readonly encounter?: string;
  readonly fhirUser?: string;
  readonly need_patient_banner: boolean;
  readonly smart_style_url?: string;
  readonly intent?: string;
}

type FormParams = Readonly<Record<string, string | undefined>>;

export async function redeemAuthorizationCode(deps: CodeGrantDeps, params: FormParams, client: OAuthClient): Promise<UserTokenResponse> {
  if (!params.code || !params.redirect_uri || !params.code_verifier) {
    throw new OAuthError('invalid_request', 'code, redirect_uri and code_verifier are required');
  }
  const redemption = deps.store.redeemCode(params.code);
  if (!redemption.ok) {
    const why = { unknown: 'is not valid', expired: 'has expired', used: 'was already used' }[redemption.reason];
    throw new OAuthError('invalid_grant', `The authorization code ${why}`);
  }
  const { grant } = redemption;
  if (grant.clientId !== client.clientId) {
    throw new OAuthError('invalid_grant', 'The authorization code was issued to another client');
  }
  if (grant.redirectUri !== params.redirect_uri) {
    throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request');
  }
  if (!verifyCodeVerifier(params.code_verifier, grant.codeChallenge)) {
    throw new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge (PKCE)');
  }
  const response = await userTokenResponse(deps, { clientId: client.clientId, scopes: grant.scopes, context: grant.context }, params.code, grant.nonce);
  return response;
}

export async function redeemRefreshToken(deps: CodeGrantDeps, params: FormParams, client: OAuthClient): Promise<UserTokenResponse> {
  if (!params.refresh_token) {
    throw new OAuthError('invalid_request', 'refresh_token is required');
  }
  const grant = deps.store.redeemRefreshToken(params.refresh_token);
  if (!grant || grant.clientId !== client.clientId) {
    throw new OAuthError('invalid_grant', 'The refresh token is not valid (unknown, expired, already used or for another client)');
  }
  // RFC 6749 §6: a refresh may narrow the scopes, never widen them.
  const requested = (params.scope ?? '').split(' ').filter(Boolean);
  const scopes = requested.length === 0 ? grant.scopes : requested.filter((s) => grant.scopes.includes(s));
  if (scopes.length === 0) {
    throw new OAuthError('invalid_scope', 'The requested scopes exceed those originally granted');
  }
  return userTokenResponse(deps, { ...grant, scopes });
}

async function userTokenResponse(deps: CodeGrantDeps, grant: RefreshGrant, fromCode?: string, nonce?: string): Promise<UserTokenResponse> {
  const { context, scopes } = grant;
  const issued = await deps.issueAccessToken({ clientId: grant.clientId, scopes, fhirUser: context.fhirUser, patientId: context.patientId });
  // Rotation: each refresh returns a new refresh token and the old one stops working.
  const wantsRefresh = scopes.includes('offline_access') || scopes.includes('online_access');
  const refreshToken = wantsRefresh ? deps.store.issueRefreshToken(grant, deps.refreshTokenLifetimeSeconds, fromCode) : undefined;
  const idToken = scopes.includes('openid') && context.fhirUser !== undefined ? await signIdToken(deps, grant.clientId, context, scopes, nonce) : undefined;
  return {
    access_token: issued.accessToken,
    token_type: 'Bearer',
    expires_in: issued.expiresIn,
    scope: issued.scope,
    ...(refreshToken === undefined ? {} : { refresh_token: refreshToken }),
    ...(idToken === undefined ? {} : { id_token: idToken }),
    ...(context.patientId === undefined ? {} : { patient: context.patientId }),
    ...(context.encounterId === undefined ? {} : { encounter: context.encounterId }),
    ...(context.fhirUser === undefined ? {} : { fhirUser: context.fhirUser }),
    ...(context.intent === undefined ? {} : { intent: context.intent }),
    need_patient_banner: context.needPatientBanner,
    ...(deps.smartStyleUrl === undefined ? {} : { smart_style_url: deps.smartStyleUrl }),
  };
}

/**
 * An OpenID Connect id_token for the signed-in user (`fhirUser` claim when that scope was granted).
 * Signed with the server key (ES256). SMART's `sso-openid-connect` capability also requires RS256,
 * which this server does not offer, so discovery does not claim it.
 * https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html#scopes-for-requesting-identity-data
 */
async function signIdToken(deps: CodeGrantDeps, clientId: string, context: LaunchContext, scopes: readonly string[], nonce?: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, string> = {};
  if (scopes.includes('fhirUser') && context.fhirUser !== undefined) {
    claims.fhirUser = context.fhirUser;
  }
  if (nonce !== undefined) {
    claims.nonce = nonce;
  }
  return new SignJWT(claims)
    .setProtectedHeader({ alg: deps.keys.alg, kid: deps.keys.kid, typ: 'JWT' })
    .setIssuer(deps.issuer)
    .setSubject(context.fhirUser as string)
    .setAudience(clientId)
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(deps.keys.privateKey);
}
