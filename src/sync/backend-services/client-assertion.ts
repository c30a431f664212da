/**
 * The signed JWT a backend client authenticates with at the EHR's token endpoint:
 * `iss` = `sub` = client id, `aud` = token endpoint, `exp` ≤ 5 minutes, a fresh `jti`, `kid` in the header.
 * https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html#authenticating-to-the-token-endpoint
 */
import { randomUUID } from 'node:crypto';
import { importJWK, SignJWT } from 'jose';
import type { StoredSyncKey } from './sync-keys';

/** Well under the five-minute ceiling, so clock skew at the EHR cannot push it over. */
export const ASSERTION_LIFETIME_SECONDS = 4 * 60;

export async function signClientAssertion(key: StoredSyncKey, clientId: string, tokenEndpoint: string, now = Date.now()): Promise<string> {
  const privateKey = await importJWK(key.privateJwk, key.alg);
  const iat = Math.floor(now / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(tokenEndpoint)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ASSERTION_LIFETIME_SECONDS)
    .setJti(randomUUID())
    .sign(privateKey);
}
