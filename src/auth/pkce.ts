/**
 * PKCE, S256 only (SMART App Launch 2.2 forbids `plain`).
 * https://www.rfc-editor.org/rfc/rfc7636#section-4.6
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** RFC 7636 §4.1/4.2: 43-128 characters of the unreserved set (a base64url SHA-256 is 43). */
const VERIFIER_PATTERN = /^[A-Za-z0-9\-._~]{43,128}$/;
const CHALLENGE_PATTERN = /^[A-Za-z0-9\-_]{43}$/;

export function isValidCodeChallenge(challenge: string): boolean {
  return CHALLENGE_PATTERN.test(challenge);
}

/** True when base64url(SHA-256(verifier)) equals the challenge sent to the authorization endpoint. */
export function verifyCodeVerifier(verifier: string, challenge: string): boolean {
  if (!VERIFIER_PATTERN.test(verifier)) {
    return false;
  }
  const computed = Buffer.from(createHash('sha256').update(verifier, 'ascii').digest('base64url'));
  const expected = Buffer.from(challenge);
  return computed.length === expected.length && timingSafeEqual(computed, expected);
}
