/**
 * The sync client's own signing keys for SMART Backend Services (`private_key_jwt`): one RS384 and
 * one ES384 key pair, kept as a private JWK Set in `<dataDir>/sync-keys.json` (mode 0600). The
 * public half is served as a JWK Set (`/.well-known/sync-jwks.json`), the URL an EHR such as Epic
 * is given at registration.
 * Rotation adds a new pair per algorithm and keeps the previous pairs' public keys published for a
 * grace period (the EHR may have cached the old set; tokens already issued stay valid), then drops them.
 * https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html#registering-a-client-communicating-public-keys
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { exportJWK, generateKeyPair, type JWK } from 'jose';

export const SYNC_KEY_ALGS = ['RS384', 'ES384'] as const;
export type SyncKeyAlg = (typeof SYNC_KEY_ALGS)[number];

/** Old keys stay published this long after a rotation. */
export const ROTATION_GRACE_MS = 24 * 60 * 60 * 1000;

export interface StoredSyncKey {
  readonly kid: string;
  readonly alg: SyncKeyAlg;
  readonly createdAt: string;
  /** Set when a rotation replaced this key: it no longer signs, and is unpublished after the grace period. */
  readonly retiredAt?: string;
  /** The private JWK (includes `d`). */
  readonly privateJwk: JWK;
}

interface SyncKeyFile {
  readonly keys: StoredSyncKey[];
}

export class SyncKeysMissingError extends Error {
  readonly code = 'ERR_SYNC_KEYS_MISSING';
  constructor(path: string) {
    super(`No sync signing keys at ${path}; run "dermbridge keys generate" first`);
  }
}

export function syncKeysPath(dataDir: string): string {
  return join(dataDir, 'sync-keys.json');
}

export function readSyncKeys(path: string): StoredSyncKey[] {
  if (!existsSync(path)) {
    throw new SyncKeysMissingError(path);
  }
  return (JSON.parse(readFileSync(path, 'utf8')) as SyncKeyFile).keys;
}

/** Creates the key file if it does not exist; returns the keys either way. */
export async function generateSyncKeys(path: string): Promise<{ created: boolean; keys: StoredSyncKey[] }> {
  if (existsSync(path)) {
    return { created: false, keys: readSyncKeys(path) };
  }
  const keys = await Promise.all(SYNC_KEY_ALGS.map((alg) => newKey(alg)));
  writeKeyFile(path, keys);
  return { created: true, keys };
}

/** New active keys for every algorithm; the previous ones are retired (still published for the grace period). */
export async function rotateSyncKeys(path: string, now = new Date()): Promise<StoredSyncKey[]> {
  const previous = existsSync(path) ? readSyncKeys(path) : [];
  const kept = previous
    .map((k) => (k.retiredAt ? k : { ...k, retiredAt: now.toISOString() }))
    .filter((k) => now.getTime() - Date.parse(k.retiredAt as string) < ROTATION_GRACE_MS);
  const fresh = await Promise.all(SYNC_KEY_ALGS.map((alg) => newKey(alg, now)));
  const keys = [...fresh, ...kept];
  writeKeyFile(path, keys);
  return keys;
}

/** The key that signs assertions for `alg`. */
export function activeKey(keys: readonly StoredSyncKey[], alg: SyncKeyAlg): StoredSyncKey {
  const key = keys.find((k) => k.alg === alg && !k.retiredAt);
  if (!key) {
    throw new TypeError(`No active ${alg} sync key; run "dermbridge keys rotate"`);
  }
  return key;
}

/**
 * Keys to try for `alg`, best first: the active key, then keys retired within the grace period,
 * newest first. An EHR that cached our JWK Set just before a rotation still knows the old key.
 */
export function signingCandidates(keys: readonly StoredSyncKey[], alg: SyncKeyAlg, now = Date.now()): StoredSyncKey[] {
  const retired = keys
    .filter((k) => k.alg === alg && k.retiredAt && now - Date.parse(k.retiredAt) < ROTATION_GRACE_MS)
    .sort((a, b) => Date.parse(b.retiredAt as string) - Date.parse(a.retiredAt as string));
  return [activeKey(keys, alg), ...retired];
}

/** The public JWK Set: active keys and keys retired less than the grace period ago. */
export function publicJwks(keys: readonly StoredSyncKey[], now = Date.now()): { keys: JWK[] } {
  return {
    keys: keys
      .filter((k) => !k.retiredAt || now - Date.parse(k.retiredAt) < ROTATION_GRACE_MS)
      .map((k) => toPublicJwk(k)),
  };
}

function toPublicJwk(key: StoredSyncKey): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = key.privateJwk;
  return { ...pub, kid: key.kid, alg: key.alg, use: 'sig', key_ops: ['verify'] };
}

async function newKey(alg: SyncKeyAlg, now = new Date()): Promise<StoredSyncKey> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS384' ? { modulusLength: 3072 } : {}) });
  const kid = `${alg.toLowerCase()}-${randomUUID()}`;
  return { kid, alg, createdAt: now.toISOString(), privateJwk: { ...(await exportJWK(privateKey)), kid, alg } };
}

/** Write-then-rename, so a crash never leaves a half-written key file. */
function writeKeyFile(path: string, keys: readonly StoredSyncKey[]): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ keys }, null, 2), { mode: 0o600 });
  renameSync(tmp, path);
  chmodSync(path, 0o600);
}
