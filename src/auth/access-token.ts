/**
 * Access tokens: JWTs signed with the server key, in the JWT access-token profile (RFC 9068:
 * `typ: at+jwt`, `iss`, `aud`, `sub`, `client_id`, `scope`, `jti`, `iat`, `exp`), plus SMART's
 * `patient` and `fhirUser` launch context and Medplum's `login_id`.
 * MedplumClient checks `client_id` against its own client id, and calls `/auth/me` only when the
 * token has a string `login_id` (that is how it recognises a Medplum-compatible server).
 * https://www.rfc-editor.org/rfc/rfc9068#section-2.2
 */
import { randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT, type JWTPayload } from 'jose';
import type { AccessContext } from './access-context';
import type { SigningKeys } from './signing-keys';

const TOKEN_TYPE = 'at+jwt';

/** Whom a token is for and what it grants. */
export interface AccessTokenGrant {
  readonly clientId: string;
  readonly scopes: readonly string[];
  /** Acting user, e.g. `Practitioner/123`; becomes `sub` and `fhirUser`. Default: `ClientApplication/<clientId>`. */
  readonly fhirUser?: string;
  /** Patient in context (required for `patient/` scopes to grant anything). */
  readonly patientId?: string;
  /** Overrides the configured lifetime (e.g. to mint an already-expired token in a test). */
  readonly lifetimeSeconds?: number;
}

export interface IssuedAccessToken {
  readonly accessToken: string;
  readonly expiresIn: number;
  readonly scope: string;
  readonly tokenId: string;
}

/** Where tokens are valid: the issuer (our base URL) and audience (our FHIR base URL). */
export interface TokenAudience {
  readonly issuer: string;
  readonly audience: string;
  readonly lifetimeSeconds: number;
}

interface AccessTokenClaims extends JWTPayload {
  client_id: string;
  scope: string;
  login_id: string;
  patient?: string;
  fhirUser?: string;
}

/**
 * Signs an access token. The token endpoint uses it after authenticating a client; tests use it
 * directly to act as a given principal (a patient, a clinician) without a login flow.
 */
export async function issueAccessToken(keys: SigningKeys, where: TokenAudience, grant: AccessTokenGrant): Promise<IssuedAccessToken> {
  const tokenId = randomUUID();
  const lifetime = grant.lifetimeSeconds ?? where.lifetimeSeconds;
  const now = Math.floor(Date.now() / 1000);
  const scope = grant.scopes.join(' ');
  const claims: AccessTokenClaims = { client_id: grant.clientId, scope, login_id: tokenId };
  if (grant.patientId !== undefined) {
    claims.patient = grant.patientId;
  }
  if (grant.fhirUser !== undefined) {
    claims.fhirUser = grant.fhirUser;
  }
  const accessToken = await new SignJWT(claims)
    .setProtectedHeader({ alg: keys.alg, kid: keys.kid, typ: TOKEN_TYPE })
    .setIssuer(where.issuer)
    .setAudience(where.audience)
    .setSubject(subjectOf(grant))
    .setJti(tokenId)
    .setIssuedAt(now)
    .setExpirationTime(now + lifetime)
    .sign(keys.privateKey);
  return { accessToken, expiresIn: lifetime, scope, tokenId };
}

/** The acting principal's FHIR reference: the user, or the client itself. */
export function subjectOf(grant: Pick<AccessTokenGrant, 'clientId' | 'fhirUser'>): string {
  return grant.fhirUser ?? `ClientApplication/${grant.clientId}`;
}

/**
 * Verifies signature (server keys only, ES256 only: `alg: none` and algorithm confusion fail),
 * `typ`, `iss`, `aud` and `exp`, and returns the access context. Throws jose's typed errors
 * (`ERR_JWT_EXPIRED`, `ERR_JWS_SIGNATURE_VERIFICATION_FAILED`, ...) for the caller to report.
 */
export async function verifyAccessToken(keys: SigningKeys, where: TokenAudience, token: string): Promise<{ access: AccessContext; expiresAt: number }> {
  const { payload } = await jwtVerify<AccessTokenClaims>(token, (header) => keyFor(keys, header.kid), {
    algorithms: [keys.alg],
    typ: TOKEN_TYPE,
    issuer: where.issuer,
    audience: where.audience,
    requiredClaims: ['sub', 'jti', 'exp', 'client_id', 'scope'],
  });
  const access: AccessContext = {
    clientId: payload.client_id,
    subject: payload.sub as string,
    scopes: payload.scope.split(' ').filter(Boolean),
    patientId: payload.patient,
    tokenId: payload.jti as string,
  };
  return { access, expiresAt: (payload.exp as number) * 1000 };
}

function keyFor(keys: SigningKeys, kid: unknown) {
  // The header is attacker-controlled: anything but a string names no key of ours.
  const key = typeof kid === 'string' ? keys.publicKeyFor(kid) : undefined;
  if (!key) {
    throw new UnknownSigningKeyError(kid);
  }
  return key;
}

/** The token names a `kid` that none of the server's keys has: not ours (or forged). */
export class UnknownSigningKeyError extends Error {
  readonly code = 'ERR_UNKNOWN_SIGNING_KEY';
  constructor(kid: unknown) {
    super(typeof kid !== 'string' ? 'Token has no usable kid' : `No server key has kid ${kid}`);
  }
}
