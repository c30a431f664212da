/**
 * Client secrets at rest: scrypt (memory-hard KDF, built into node:crypto) with a per-secret salt,
 * compared in constant time. Stored as `scrypt$<N>$<r>$<p>$<salt b64url>$<hash b64url>` so the cost
 * parameters can be raised later without invalidating stored secrets.
 */
import { randomBytes, scrypt, scryptSync, timingSafeEqual, type ScryptOptions } from 'node:crypto';

// Node's defaults (N=2^14, r=8: 16 MiB, ~50 ms). Client secrets are long random strings rather
// than human passwords, so the KDF mainly protects a leaked database, and the cost stays low
// enough for a token request.
const COST: Required<Pick<ScryptOptions, 'N' | 'r' | 'p'>> = { N: 16384, r: 8, p: 1 };
const KEY_LENGTH = 32;

export function hashSecret(secret: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(secret, salt, KEY_LENGTH, COST);
  return ['scrypt', COST.N, COST.r, COST.p, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

/** True if `secret` matches `stored`. Runs off the event loop (async scrypt). */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || hash === undefined) {
    return false;
  }
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scryptAsync(secret, Buffer.from(salt, 'base64url'), expected.length, { N: Number(n), r: Number(r), p: Number(p) });
  return timingSafeEqual(actual, expected);
}

/**
 * A hash of a random secret, verified against when the client id is unknown so that an unknown
 * client costs the same time as a wrong secret (no client-id enumeration by timing).
 */
export function decoySecretHash(): string {
  decoy ??= hashSecret(randomBytes(16).toString('hex'));
  return decoy;
}
let decoy: string | undefined;

function scryptAsync(secret: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}
