/**
 * The server's access-token signing keys, kept in the `auth_signing_key` table of the server's
 * database: generated on first start, reused after a restart, and shared by every process using
 * the database, so any of them verifies a token another issued.
 *
 * Algorithm: ES256 (ECDSA P-256). Tokens are ~140 bytes instead of ~400 with RS256 (they ride on
 * every request), key generation takes a millisecond instead of ~60, and it is supported by every
 * JOSE library. RS256 verifies faster, but bearer-auth caches verified tokens, so signatures are
 * checked once per token, not per request. https://www.rfc-editor.org/rfc/rfc7518#section-3.4
 *
 * The private key is stored unencrypted in the database: whoever can read the database file can
 * already read every resource in it, so encrypting the key with a secret kept beside it would add
 * nothing. Keys are never deleted, so tokens signed with an older key stay verifiable until they
 * expire; the newest key signs.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import type { JSONWebKeySet, JWK } from 'jose';

export const SIGNING_ALG = 'ES256';

export interface SigningKeys {
  readonly alg: typeof SIGNING_ALG;
  /** `kid` of the key that signs new tokens. */
  readonly kid: string;
  readonly privateKey: KeyObject;
  /** Public key for a token's `kid`, including keys another process created after this one started. */
  publicKeyFor(kid: string): KeyObject | undefined;
  /** The public JWK Set (`/.well-known/jwks.json`); never contains private parts. */
  jwks(): JSONWebKeySet;
}

interface KeyRow {
  kid: string;
  private_jwk: string;
  public_jwk: string;
}

/** Loads the newest signing key from `db`, generating and storing one if there is none. */
export function loadOrCreateSigningKeys(db: DatabaseSync, now: () => number = Date.now): SigningKeys {
  db.exec(`CREATE TABLE IF NOT EXISTS auth_signing_key (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    private_jwk TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT`);
  insertFirstKey(db, now());
  const current = db
    .prepare('SELECT kid, private_jwk, public_jwk FROM auth_signing_key WHERE alg = ? ORDER BY created_at DESC, kid DESC LIMIT 1')
    .get(SIGNING_ALG) as unknown as KeyRow;
  const privateKey = createPrivateKey({ key: JSON.parse(current.private_jwk) as JsonWebKey, format: 'jwk' });

  const selectPublic = db.prepare('SELECT public_jwk FROM auth_signing_key WHERE kid = ? AND alg = ?');
  const selectAllPublic = db.prepare('SELECT public_jwk FROM auth_signing_key WHERE alg = ? ORDER BY created_at DESC');
  const publicKeys = new Map<string, KeyObject>();

  return {
    alg: SIGNING_ALG,
    kid: current.kid,
    privateKey,
    publicKeyFor(kid) {
      let key = publicKeys.get(kid);
      if (!key) {
        const row = selectPublic.get(kid, SIGNING_ALG) as { public_jwk: string } | undefined;
        if (row) {
          key = createPublicKey({ key: JSON.parse(row.public_jwk) as JsonWebKey, format: 'jwk' });
          publicKeys.set(kid, key);
        }
      }
      return key;
    },
    jwks() {
      const rows = selectAllPublic.all(SIGNING_ALG) as unknown as { public_jwk: string }[];
      return { keys: rows.map((r) => JSON.parse(r.public_jwk) as JWK) };
    },
  };
}

/**
 * Generates a key and stores it unless a key exists. One INSERT ... WHERE NOT EXISTS statement is
 * atomic in SQLite, so two processes starting together end up with one key, not two.
 */
function insertFirstKey(db: DatabaseSync, createdAt: number): void {
  const existing = db.prepare('SELECT 1 FROM auth_signing_key WHERE alg = ? LIMIT 1').get(SIGNING_ALG);
  if (existing) {
    return;
  }
  const kid = randomUUID();
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const meta = { kid, alg: SIGNING_ALG, use: 'sig' };
  const privateJwk = { ...privateKey.export({ format: 'jwk' }), ...meta };
  const publicJwk = { ...publicKey.export({ format: 'jwk' }), ...meta };
  db.prepare(
    `INSERT INTO auth_signing_key (kid, alg, private_jwk, public_jwk, created_at)
     SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM auth_signing_key WHERE alg = ?)`,
  ).run(kid, SIGNING_ALG, JSON.stringify(privateJwk), JSON.stringify(publicJwk), createdAt, SIGNING_ALG);
}
