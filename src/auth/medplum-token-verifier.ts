/**
 * Production (`MEDPLUM_BASE_URL`): every caller (patient, clinician, the SMART app, an admin
 * client) holds an access token that **Medplum** issued. dermbridge checks it the way Medplum's own
 * server does (`packages/server/src/oauth/keys.ts` `verifyJwt`: signature by a key of the issuer's
 * JWKS, `iss`, `exp`), builds the caller's AccessContext from its claims, and then forwards the same
 * token to Medplum, whose access policies decide what the caller may read and write.
 *
 * Medplum's access-token claims (`getAuthTokens` in `packages/server/src/oauth/utils.ts`):
 * `login_id`, `sub` (the User or ClientApplication id), `username`, `scope`, `profile`
 * (`Practitioner/123`, `Patient/456`, `ClientApplication/789`), `client_id` (absent for a login
 * without a client app), `aud` = `client_id`. Its ID and refresh tokens are signed with the same key
 * but carry no `scope`, so requiring `scope` and `login_id` admits access tokens only.
 * The embedded server's tokens (SMART `fhirUser`/`patient`, ES256) pass too: a dermbridge embedded
 * server can stand in for Medplum (test/production).
 *
 * Not checked here: `aud` (Medplum sets it to the client id, so there is no fixed audience) and
 * revoked logins (Medplum looks the Login up on each request; dermbridge cannot, so a revoked token
 * still passes dermbridge-only routes until it expires, but every store read/write refuses it).
 */
import { createRemoteJWKSet, errors, jwtVerify, type JWSHeaderParameters, type FlattenedJWSInput, type JWTPayload } from 'jose';
import type { AccessContext } from './access-context';
import { UnknownSigningKeyError } from './access-token';
import { TokenVerifierUnavailableError, type TokenVerifier } from './bearer-auth';

/** RS256 is what Medplum signs with; ES256 what an embedded dermbridge server signs with. Never `none` or HMAC. */
const ACCEPTED_ALGORITHMS = ['RS256', 'ES256'];

/** How long one JWKS request may take before the token is answered with 503. */
const JWKS_TIMEOUT_MS = 5_000;

interface MedplumAccessTokenClaims extends JWTPayload {
  login_id: string;
  scope: string;
  client_id?: string;
  /** Medplum: the acting profile resource, `Patient/123`. */
  profile?: string;
  /** SMART (and the embedded server): the acting user. */
  fhirUser?: string;
  /** SMART launch context (the embedded server puts it in the token). */
  patient?: string;
}

export interface MedplumTokenVerifierOptions {
  /** Medplum's `issuer` (its public base URL unless configured otherwise). */
  readonly issuer: string;
  /** `<Medplum base URL>.well-known/jwks.json`. */
  readonly jwksUrl: string;
}

export function createMedplumTokenVerifier(options: MedplumTokenVerifierOptions): TokenVerifier {
  // Keys are cached; an unknown `kid` refetches the set (at most every 30 s), so Medplum's key rotation needs no restart.
  const jwks = createRemoteJWKSet(new URL(options.jwksUrl), { timeoutDuration: JWKS_TIMEOUT_MS });
  const keyFor = async (header: JWSHeaderParameters, token: FlattenedJWSInput) => {
    try {
      return await jwks(header, token);
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey) {
        throw new UnknownSigningKeyError(header.kid);
      }
      if (err instanceof errors.JWKSMultipleMatchingKeys) {
        throw err;
      }
      // Timeout, connection refused, or something other than a JWKS at that URL: Medplum is not answering.
      throw new TokenVerifierUnavailableError(`Cannot fetch Medplum's signing keys from ${options.jwksUrl}: ${(err as Error).message}`);
    }
  };
  const issuers = sameIssuer(options.issuer);
  return async (token) => {
    const { payload } = await jwtVerify<MedplumAccessTokenClaims>(token, keyFor, {
      algorithms: ACCEPTED_ALGORITHMS,
      issuer: issuers,
      requiredClaims: ['exp', 'login_id', 'scope'],
    });
    return { access: accessContextOf(payload), expiresAt: (payload.exp as number) * 1000 };
  };
}

/** The AccessContext of a verified Medplum access token. */
export function accessContextOf(payload: MedplumAccessTokenClaims): AccessContext {
  if (typeof payload.scope !== 'string' || typeof payload.login_id !== 'string') {
    throw new errors.JWTClaimValidationFailed('scope and login_id must be strings', payload, 'scope', 'invalid');
  }
  // A login through the Medplum app itself has no client application.
  const clientId = typeof payload.client_id === 'string' ? payload.client_id : 'medplum';
  const subject = referenceClaim(payload.profile) ?? referenceClaim(payload.fhirUser) ?? (payload.client_id ? `ClientApplication/${payload.client_id}` : undefined);
  if (!subject) {
    throw new errors.JWTClaimValidationFailed('the token names no profile', payload, 'profile', 'missing');
  }
  // A patient's own login (profile Patient/x) is confined to that patient, as a SMART patient launch is.
  const patientId = typeof payload.patient === 'string' ? payload.patient : /^Patient\/([^/]+)$/.exec(subject)?.[1];
  return {
    clientId,
    subject,
    scopes: payload.scope.split(' ').filter(Boolean),
    patientId,
    tokenId: typeof payload.jti === 'string' ? payload.jti : payload.login_id,
  };
}

/** `Type/id`, or undefined; the claim is signed but its shape is still checked before use. */
function referenceClaim(value: unknown): string | undefined {
  return typeof value === 'string' && /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(value) ? value : undefined;
}

/**
 * Medplum compares `iss` exactly; configurations differ only in a trailing slash
 * (`http://localhost:8103/` vs `http://localhost:8103`), which names the same issuer.
 */
function sameIssuer(issuer: string): string[] {
  const bare = issuer.replace(/\/+$/, '');
  return [bare, bare + '/'];
}
