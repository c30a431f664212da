/**
 * `private_key_jwt` client authentication as SMART Backend Services require it: a JWT signed
 * RS384 or ES384 with a key from the client's registered JWK Set (chosen by `kid`), `iss` = `sub`
 * = client id, `aud` = our token endpoint, `exp` at most five minutes ahead, and a `jti` never seen
 * before. Used `jti`s are kept in `auth_client_assertion_jti` (shared by all processes) until the
 * assertion would have expired anyway. Every failure is `invalid_client`, as the spec requires.
 * https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html#authenticating-to-the-token-endpoint
 * https://www.rfc-editor.org/rfc/rfc7523#section-3
 */
import type { DatabaseSync } from 'node:sqlite';
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { ClientRegistry, OAuthClient } from './client-registry';
import { OAuthError } from './oauth-error';

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
export const CLIENT_ASSERTION_ALGS = ['RS384', 'ES384'] as const;

const MAX_LIFETIME_SECONDS = 5 * 60;
/** Allowed clock difference between client and server, for `exp`, `nbf`, `iat` and the five-minute rule. */
const CLOCK_SKEW_SECONDS = 30;

export type ClientAssertionVerifier = (assertion: string, clientIdParam: string | undefined) => Promise<OAuthClient>;

export function createClientAssertionVerifier(db: DatabaseSync, clients: ClientRegistry, tokenEndpointUrl: string): ClientAssertionVerifier {
  db.exec(`CREATE TABLE IF NOT EXISTS auth_client_assertion_jti (
    client_id TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti)
  ) STRICT`);
  db.exec('CREATE INDEX IF NOT EXISTS auth_client_assertion_jti_expires ON auth_client_assertion_jti (expires_at)');
  const purgeExpired = db.prepare('DELETE FROM auth_client_assertion_jti WHERE expires_at < ?');
  // OR IGNORE + `changes`: one atomic statement decides first use, even across processes.
  const recordJti = db.prepare('INSERT OR IGNORE INTO auth_client_assertion_jti (client_id, jti, expires_at) VALUES (?, ?, ?)');
  const remoteKeySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

  const keySetFor = (client: OAuthClient): JWTVerifyGetKey => {
    if (client.jwks) {
      return createLocalJWKSet(client.jwks);
    }
    const uri = client.jwksUri as string;
    let remote = remoteKeySets.get(uri);
    if (!remote) {
      // jose caches the fetched set and refetches on an unknown kid (rate-limited), which is how
      // a client rotates keys without re-registering.
      remote = createRemoteJWKSet(new URL(uri));
      remoteKeySets.set(uri, remote);
    }
    return remote;
  };

  return async (assertion, clientIdParam) => {
    const clientId = claimedClientId(assertion);
    if (clientIdParam !== undefined && clientIdParam !== clientId) {
      throw new OAuthError('invalid_client', 'client_id does not match the client_assertion iss/sub');
    }
    const client = clients.findClient(clientId);
    if (!client || (!client.jwks && !client.jwksUri)) {
      throw new OAuthError('invalid_client', 'Unknown client, or client has no registered keys for private_key_jwt');
    }
    const payload = await verifySignatureAndClaims(assertion, keySetFor(client), clientId, tokenEndpointUrl);
    const nowSeconds = Math.floor(Date.now() / 1000);
    if ((payload.exp as number) > nowSeconds + MAX_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS) {
      throw new OAuthError('invalid_client', 'client_assertion exp must be no more than 5 minutes in the future');
    }
    purgeExpired.run(nowSeconds);
    const expiresAt = (payload.exp as number) + CLOCK_SKEW_SECONDS;
    if (recordJti.run(clientId, payload.jti as string, expiresAt).changes === 0) {
      throw new OAuthError('invalid_client', 'client_assertion jti has already been used');
    }
    return client;
  };
}

/** The unverified iss/sub, only to find whose keys to verify with. */
function claimedClientId(assertion: string): string {
  let header: ReturnType<typeof decodeProtectedHeader>;
  let payload: JWTPayload;
  try {
    header = decodeProtectedHeader(assertion);
    payload = decodeJwt(assertion);
  } catch {
    throw new OAuthError('invalid_client', 'client_assertion is not a signed JWT');
  }
  if (!CLIENT_ASSERTION_ALGS.includes(header.alg as (typeof CLIENT_ASSERTION_ALGS)[number])) {
    throw new OAuthError('invalid_client', `client_assertion must be signed with ${CLIENT_ASSERTION_ALGS.join(' or ')}`);
  }
  if (typeof header.kid !== 'string' || header.kid === '') {
    throw new OAuthError('invalid_client', 'client_assertion header must have a kid');
  }
  if (typeof payload.iss !== 'string' || payload.iss === '' || payload.iss !== payload.sub) {
    throw new OAuthError('invalid_client', 'client_assertion iss and sub must both be the client_id');
  }
  return payload.iss;
}

async function verifySignatureAndClaims(
  assertion: string,
  keySet: JWTVerifyGetKey,
  clientId: string,
  tokenEndpointUrl: string,
): Promise<JWTPayload> {
  try {
    const { payload } = await jwtVerify(assertion, keySet, {
      algorithms: [...CLIENT_ASSERTION_ALGS],
      issuer: clientId,
      subject: clientId,
      audience: tokenEndpointUrl,
      requiredClaims: ['exp', 'jti'],
      clockTolerance: CLOCK_SKEW_SECONDS,
    });
    return payload;
  } catch (err) {
    throw new OAuthError('invalid_client', assertionFailure(err, tokenEndpointUrl));
  }
}

function assertionFailure(err: unknown, tokenEndpointUrl: string): string {
  if (err instanceof errors.JWTExpired) {
    return 'client_assertion has expired';
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    return err.claim === 'aud' ? `client_assertion aud must be ${tokenEndpointUrl}` : `client_assertion ${err.claim} claim is invalid or missing`;
  }
  if (err instanceof errors.JWKSNoMatchingKey) {
    return "client_assertion kid/alg matches no key in the client's JWK Set";
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return 'client_assertion signature is invalid';
  }
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) {
    return "The client's jwks_uri could not be fetched or is not a JWK Set";
  }
  if (err instanceof errors.JOSEError) {
    return `client_assertion is invalid (${err.code})`;
  }
  // A network failure fetching jwks_uri surfaces as a plain TypeError from fetch.
  return 'client_assertion could not be verified (jwks_uri unreachable?)';
}
