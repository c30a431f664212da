/**
 * Server-side state of the authorization-code flow, in `auth_*` tables of the auth database (so a
 * restart or a second process on the same database agrees): EHR launch contexts, authorization
 * codes and refresh tokens. Codes and refresh tokens are stored only as SHA-256 hashes: a leaked
 * database row is not a usable credential.
 * https://hl7.org/fhir/smart-app-launch/app-launch.html
 */
import { createHash, randomBytes } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';

/** Who launched, about whom: what the EHR knew when the user clicked the app. */
export interface LaunchContext {
  readonly fhirUser?: string;
  readonly patientId?: string;
  readonly encounterId?: string;
  /** SMART `need_patient_banner`: false when the EHR already shows the patient (embedded in a chart). */
  readonly needPatientBanner: boolean;
  /** SMART `intent`, e.g. `reconcile-medications`; the review app uses `econsult-queue` / `econsult-case`. */
  readonly intent?: string;
}

/** What a code (and later its refresh tokens) grants. */
export interface AuthorizationGrant {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly scopes: readonly string[];
  readonly context: LaunchContext;
  /** S256 code challenge (base64url); always present, PKCE is required. */
  readonly codeChallenge: string;
  /** OpenID Connect `nonce`, echoed in the id_token. */
  readonly nonce?: string;
}

export interface RefreshGrant {
  readonly clientId: string;
  readonly scopes: readonly string[];
  readonly context: LaunchContext;
  /** Hash of the code the chain of refresh tokens started from: a replay of that code revokes them all. */
  readonly lineage?: string;
}

export type CodeRedemption =
  | { readonly ok: true; readonly grant: AuthorizationGrant }
  | { readonly ok: false; readonly reason: 'unknown' | 'expired' | 'used' };

export interface AuthorizationStore {
  /** Stores a launch context and returns its opaque, single-purpose `launch` value. */
  createLaunch(context: LaunchContext, lifetimeSeconds: number): string;
  /** The context of an unexpired launch; undefined for an unknown or expired one. */
  resolveLaunch(launch: string): LaunchContext | undefined;
  issueCode(grant: AuthorizationGrant, lifetimeSeconds: number): string;
  /**
   * Marks the code used and returns its grant, atomically: a second redemption fails (`used`),
   * and, per RFC 6749 §4.1.2, revokes the refresh tokens the first one produced.
   */
  redeemCode(code: string): CodeRedemption;
  issueRefreshToken(grant: RefreshGrant, lifetimeSeconds: number, fromCode?: string): string;
  /** Consumes a refresh token (rotation: each is good once) and returns its grant. */
  redeemRefreshToken(token: string): RefreshGrant | undefined;
}

export function createAuthorizationStore(db: DatabaseSync, now: () => number = Date.now): AuthorizationStore {
  db.exec(`CREATE TABLE IF NOT EXISTS auth_launch (
    launch_hash TEXT PRIMARY KEY, context TEXT NOT NULL, expires_at INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE IF NOT EXISTS auth_code (
    code_hash TEXT PRIMARY KEY, grant_json TEXT NOT NULL, expires_at INTEGER NOT NULL, used_at INTEGER
  ) STRICT;
  CREATE TABLE IF NOT EXISTS auth_refresh_token (
    token_hash TEXT PRIMARY KEY, grant_json TEXT NOT NULL, expires_at INTEGER NOT NULL,
    used_at INTEGER, code_hash TEXT
  ) STRICT;`);
  const purge = (): void => {
    const cutoff = now();
    db.prepare('DELETE FROM auth_launch WHERE expires_at < ?').run(cutoff);
    db.prepare('DELETE FROM auth_code WHERE expires_at < ?').run(cutoff - 86_400_000);
    db.prepare('DELETE FROM auth_refresh_token WHERE expires_at < ?').run(cutoff);
  };
  const insertLaunch = db.prepare('INSERT INTO auth_launch (launch_hash, context, expires_at) VALUES (?, ?, ?)');
  const selectLaunch = db.prepare('SELECT context, expires_at FROM auth_launch WHERE launch_hash = ?');
  const insertCode = db.prepare('INSERT INTO auth_code (code_hash, grant_json, expires_at) VALUES (?, ?, ?)');
  const useCode = db.prepare('UPDATE auth_code SET used_at = ? WHERE code_hash = ? AND used_at IS NULL RETURNING grant_json, expires_at');
  const selectCode = db.prepare('SELECT used_at FROM auth_code WHERE code_hash = ?');
  const revokeFromCode = db.prepare('UPDATE auth_refresh_token SET used_at = ? WHERE code_hash = ?');
  const insertRefresh = db.prepare('INSERT INTO auth_refresh_token (token_hash, grant_json, expires_at, code_hash) VALUES (?, ?, ?, ?)');
  const useRefresh = db.prepare(
    'UPDATE auth_refresh_token SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING grant_json, code_hash',
  );

  return {
    createLaunch(context, lifetimeSeconds) {
      purge();
      const launch = opaqueToken();
      insertLaunch.run(sha256(launch), JSON.stringify(context), now() + lifetimeSeconds * 1000);
      return launch;
    },

    resolveLaunch(launch) {
      const row = selectLaunch.get(sha256(launch)) as { context: string; expires_at: number } | undefined;
      return row && row.expires_at > now() ? (JSON.parse(row.context) as LaunchContext) : undefined;
    },

    issueCode(grant, lifetimeSeconds) {
      const code = opaqueToken();
      insertCode.run(sha256(code), JSON.stringify(grant), now() + lifetimeSeconds * 1000);
      return code;
    },

    redeemCode(code) {
      const hash = sha256(code);
      const row = useCode.get(now(), hash) as { grant_json: string; expires_at: number } | undefined;
      if (!row) {
        if (selectCode.get(hash)) {
          revokeFromCode.run(now(), hash);
          return { ok: false, reason: 'used' };
        }
        return { ok: false, reason: 'unknown' };
      }
      if (row.expires_at <= now()) {
        return { ok: false, reason: 'expired' };
      }
      return { ok: true, grant: JSON.parse(row.grant_json) as AuthorizationGrant };
    },

    issueRefreshToken(grant, lifetimeSeconds, fromCode) {
      const token = opaqueToken();
      const lineage = fromCode === undefined ? grant.lineage : sha256(fromCode);
      insertRefresh.run(sha256(token), JSON.stringify({ ...grant, lineage }), now() + lifetimeSeconds * 1000, lineage ?? null);
      return token;
    },

    redeemRefreshToken(token) {
      const row = useRefresh.get(now(), sha256(token), now()) as { grant_json: string } | undefined;
      return row && (JSON.parse(row.grant_json) as RefreshGrant);
    },
  };
}

/** 256 random bits, base64url: unguessable codes, launch ids and refresh tokens. */
function opaqueToken(): string {
  return randomBytes(32).toString('base64url');
}

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}
