/**
 * Verifies an EHR's OpenID Connect id_token: signature against the keys the EHR publishes at the
 * `jwks_uri` of its OpenID configuration, `iss` = the EHR's configured (or discovered) issuer,
 * `aud` = our client id at that EHR, `exp`/`iat`, and `at_hash` when the EHR sends one.
 * https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation
 * https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig
 * https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html#scopes-for-requesting-identity-data
 *
 * Every URL fetched comes from configuration (the EHR's FHIR base, its issuer) or from documents
 * fetched from there: nothing the browser sends chooses where this server connects.
 */
import { createHash } from 'node:crypto';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import type { EhrCaseStoreAccess, SmartEhr } from '../config/config';

/** Asymmetric algorithms only: `none` and HMAC (a shared secret the browser could hold) never verify. */
export const ID_TOKEN_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'ES256', 'ES384'];
const FETCH_TIMEOUT_MS = 5000;
const CLOCK_TOLERANCE_SECONDS = 30;

export interface VerifiedEhrIdentity {
  /** `sub` of the id_token. */
  readonly subject: string;
  /** The `fhirUser` claim as the EHR sent it (absolute URL or relative reference). */
  readonly fhirUser: string;
  readonly expiresAt: number;
}

/** Why the id_token is not acceptable: the caller answers `invalid_grant`. */
export class IdTokenRejectedError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The EHR's keys or metadata could not be fetched: the caller answers `temporarily_unavailable`. */
export class EhrUnreachableError extends Error {}

type ConfiguredEhr = SmartEhr & { readonly caseStoreAccess: EhrCaseStoreAccess };

interface OpenIdSetup {
  readonly issuer: string;
  readonly jwks: ReturnType<typeof createRemoteJWKSet>;
}

/** One verifier per server: discovery documents and JWKS are cached per EHR (jose refetches on an unknown `kid`). */
export function createEhrIdTokenVerifier(fetchImpl: typeof fetch = fetch) {
  const setups = new Map<string, Promise<OpenIdSetup>>();

  const setupFor = (ehr: ConfiguredEhr): Promise<OpenIdSetup> => {
    let setup = setups.get(ehr.issuer);
    if (!setup) {
      setup = discover(ehr, fetchImpl);
      // A failed discovery is retried on the next request rather than cached.
      setup.catch(() => setups.delete(ehr.issuer));
      setups.set(ehr.issuer, setup);
    }
    return setup;
  };

  return async function verifyEhrIdToken(ehr: ConfiguredEhr, idToken: string, accessToken: string): Promise<VerifiedEhrIdentity> {
    const { issuer, jwks } = await setupFor(ehr);
    let payload: JWTPayload;
    let alg: string;
    try {
      ({ payload, protectedHeader: { alg } } = await jwtVerify(idToken, jwks, {
        issuer,
        audience: ehr.clientId,
        algorithms: ID_TOKEN_ALGORITHMS,
        requiredClaims: ['sub', 'exp', 'iat'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      }));
    } catch (err) {
      throw rejection(err);
    }
    const fhirUser = payload.fhirUser;
    if (typeof fhirUser !== 'string' || fhirUser === '') {
      throw new IdTokenRejectedError('ERR_NO_FHIR_USER', 'The id_token has no fhirUser claim (request the openid and fhirUser scopes from the EHR)');
    }
    // OIDC Core §3.1.3.8: at_hash binds the id_token to the access token issued with it.
    if (payload.at_hash !== undefined && payload.at_hash !== accessTokenHash(accessToken, alg)) {
      throw new IdTokenRejectedError('ERR_AT_HASH_MISMATCH', 'The id_token was not issued with this access token (at_hash)');
    }
    return { subject: payload.sub as string, fhirUser, expiresAt: (payload.exp as number) * 1000 };
  };
}

export type EhrIdTokenVerifier = ReturnType<typeof createEhrIdTokenVerifier>;

/**
 * The EHR's OpenID issuer (configured, or the `issuer` of its SMART configuration) and its JWKS
 * (the `jwks_uri` of `{issuer}/.well-known/openid-configuration`, whose `issuer` must match).
 */
async function discover(ehr: ConfiguredEhr, fetchImpl: typeof fetch): Promise<OpenIdSetup> {
  let issuer = ehr.caseStoreAccess.openIdIssuer;
  if (issuer === undefined) {
    const smart = await fetchJson(fetchImpl, `${stripSlash(ehr.issuer)}/.well-known/smart-configuration`);
    if (typeof smart.issuer !== 'string') {
      throw new EhrUnreachableError(`${ehr.name} announces no OpenID issuer in its smart-configuration; set caseStoreAccess.openIdIssuer`);
    }
    issuer = smart.issuer;
  }
  const openId = await fetchJson(fetchImpl, `${stripSlash(issuer)}/.well-known/openid-configuration`);
  if (typeof openId.issuer !== 'string' || stripSlash(openId.issuer) !== stripSlash(issuer)) {
    throw new EhrUnreachableError(`${ehr.name}'s OpenID configuration names issuer ${String(openId.issuer)}, not ${issuer}`);
  }
  if (typeof openId.jwks_uri !== 'string' || !/^https?:\/\//.test(openId.jwks_uri)) {
    throw new EhrUnreachableError(`${ehr.name}'s OpenID configuration has no usable jwks_uri`);
  }
  return { issuer: openId.issuer, jwks: createRemoteJWKSet(new URL(openId.jwks_uri), { timeoutDuration: FETCH_TIMEOUT_MS }) };
}

async function fetchJson(fetchImpl: typeof fetch, url: string): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetchImpl(url, { headers: { accept: 'application/json' }, redirect: 'error', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  } catch (err) {
    throw new EhrUnreachableError(`Cannot fetch ${url}: ${(err as Error).message}`);
  }
  if (!res.ok) {
    throw new EhrUnreachableError(`${url} answered ${res.status}`);
  }
  const body: unknown = await res.json().catch(() => undefined);
  if (typeof body !== 'object' || body === null) {
    throw new EhrUnreachableError(`${url} is not a JSON object`);
  }
  return body as Record<string, unknown>;
}

/** jose's typed errors, in words; a JWKS that cannot be fetched is the EHR's outage, not a bad token. */
function rejection(err: unknown): Error {
  // jose: a timeout, a non-200 JWKS answer, or fetch's own TypeError when the host cannot be reached.
  const unreachable = err instanceof errors.JWKSTimeout || (err instanceof errors.JOSEError && err.code === 'ERR_JOSE_GENERIC' && /JSON Web Key Set/.test(err.message)) || err instanceof TypeError;
  if (unreachable) {
    return new EhrUnreachableError(`The EHR's keys could not be fetched: ${(err as Error).message}`);
  }
  if (err instanceof errors.JWTExpired) {
    return new IdTokenRejectedError(err.code, 'The id_token has expired; launch the app again from the EHR');
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    return new IdTokenRejectedError(err.code, `The id_token's ${err.claim} claim is not acceptable (${err.reason}): issued by another EHR or for another client`);
  }
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWSSignatureVerificationFailed) {
    return new IdTokenRejectedError(err.code, "The id_token's signature does not verify with the EHR's published keys");
  }
  if (err instanceof errors.JOSEError) {
    return new IdTokenRejectedError(err.code, `The id_token is not acceptable: ${err.message}`);
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** OIDC Core §3.1.3.6: base64url of the left half of the access token's hash, SHA-2 of the id_token alg's size. */
function accessTokenHash(accessToken: string, alg: string): string {
  const bits = alg.slice(-3);
  const digest = createHash(`sha${bits}`).update(accessToken, 'ascii').digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

function stripSlash(url: string): string {
  return url.replace(/\/+$/, '');
}
