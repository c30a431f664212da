/**
 * Registered OAuth clients, in the `auth_client` table of the server's database so that every
 * process sharing the database knows the same clients.
 * A client authenticates with a secret (SMART client-confidential-symmetric), with a JWT signed by a
 * key from its JWK Set (client-confidential-asymmetric), or either. A client may be pinned to a
 * principal (`fhirUser`, `patientId`): then its tokens act as that user / for that patient, which
 * is how test and demo principals (patient A, a clinician) are made.
 * https://hl7.org/fhir/smart-app-launch/client-confidential-symmetric.html
 * https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html
 */
import type { DatabaseSync } from 'node:sqlite';
import type { JSONWebKeySet } from 'jose';
import { decoySecretHash, hashSecret, verifySecret } from './secret-hash';

export interface ClientRegistration {
  readonly clientId: string;
  /** Human-readable name, shown as the ClientApplication's name. */
  readonly name?: string;
  /** Shared secret; stored only as a scrypt hash. */
  readonly secret?: string;
  /** Scopes the client may be granted (SMART v1 or v2 syntax). */
  readonly scopes: readonly string[];
  /** Public keys for `private_key_jwt`, inline. */
  readonly jwks?: JSONWebKeySet;
  /** Public keys for `private_key_jwt`, fetched from this URL (SMART's preferred form). */
  readonly jwksUri?: string;
  /** Tokens act as this user, e.g. `Practitioner/123` or `Patient/abc`. */
  readonly fhirUser?: string;
  /** Tokens carry this patient context (needed for `patient/` scopes). */
  readonly patientId?: string;
  /** Exact redirect URIs for the authorization-code grant (none: the client cannot use it). */
  readonly redirectUris?: readonly string[];
  /**
   * A public client (SMART client-public, e.g. a browser app): no credentials, so it may use only
   * the authorization-code grant, and only with PKCE.
   */
  readonly isPublic?: boolean;
}

export interface OAuthClient extends Omit<ClientRegistration, 'secret'> {
  readonly hasSecret: boolean;
}

export interface ClientRegistry {
  /** Creates or replaces a client (every field, including the secret). Throws TypeError on misuse. */
  registerClient(registration: ClientRegistration): OAuthClient;
  findClient(clientId: string): OAuthClient | undefined;
  /** The client if `secret` is its secret; undefined for an unknown client or a wrong secret, in equal time. */
  authenticateWithSecret(clientId: string, secret: string): Promise<OAuthClient | undefined>;
}

interface ClientRow {
  client_id: string;
  name: string | null;
  secret_hash: string | null;
  scopes: string;
  jwks: string | null;
  jwks_uri: string | null;
  fhir_user: string | null;
  patient_id: string | null;
  redirect_uris: string | null;
  is_public: number | null;
}

export function createClientRegistry(db: DatabaseSync, now: () => number = Date.now): ClientRegistry {
  db.exec(`CREATE TABLE IF NOT EXISTS auth_client (
    client_id TEXT PRIMARY KEY,
    name TEXT,
    secret_hash TEXT,
    scopes TEXT NOT NULL,
    jwks TEXT,
    jwks_uri TEXT,
    fhir_user TEXT,
    patient_id TEXT,
    updated_at INTEGER NOT NULL
  ) STRICT`);
  addColumnIfMissing(db, 'redirect_uris', 'TEXT');
  addColumnIfMissing(db, 'is_public', 'INTEGER');
  const upsert = db.prepare(`INSERT INTO auth_client (client_id, name, secret_hash, scopes, jwks, jwks_uri, fhir_user, patient_id, redirect_uris, is_public, updated_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (client_id) DO UPDATE SET name = excluded.name, secret_hash = excluded.secret_hash, scopes = excluded.scopes,
      jwks = excluded.jwks, jwks_uri = excluded.jwks_uri, fhir_user = excluded.fhir_user, patient_id = excluded.patient_id,
      redirect_uris = excluded.redirect_uris, is_public = excluded.is_public, updated_at = excluded.updated_at`);
  const select = db.prepare('SELECT * FROM auth_client WHERE client_id = ?');
  const findRow = (clientId: string): ClientRow | undefined => select.get(clientId) as ClientRow | undefined;

  return {
    registerClient(registration) {
      checkRegistration(registration);
      const r = registration;
      upsert.run(
        r.clientId,
        r.name ?? null,
        r.secret === undefined ? null : hashSecret(r.secret),
        r.scopes.join(' '),
        r.jwks === undefined ? null : JSON.stringify(r.jwks),
        r.jwksUri ?? null,
        r.fhirUser ?? null,
        r.patientId ?? null,
        r.redirectUris === undefined ? null : JSON.stringify(r.redirectUris),
        r.isPublic ? 1 : 0,
        now(),
      );
      return toClient(findRow(r.clientId) as ClientRow);
    },

    findClient(clientId) {
      const row = findRow(clientId);
      return row && toClient(row);
    },

    async authenticateWithSecret(clientId, secret) {
      const row = findRow(clientId);
      const matches = await verifySecret(secret, row?.secret_hash ?? decoySecretHash());
      return matches && row?.secret_hash ? toClient(row) : undefined;
    },
  };
}

function toClient(row: ClientRow): OAuthClient {
  return {
    clientId: row.client_id,
    name: row.name ?? undefined,
    hasSecret: row.secret_hash !== null,
    scopes: row.scopes.split(' ').filter(Boolean),
    jwks: row.jwks === null ? undefined : (JSON.parse(row.jwks) as JSONWebKeySet),
    jwksUri: row.jwks_uri ?? undefined,
    fhirUser: row.fhir_user ?? undefined,
    patientId: row.patient_id ?? undefined,
    redirectUris: row.redirect_uris === null ? undefined : (JSON.parse(row.redirect_uris) as string[]),
    isPublic: row.is_public === 1,
  };
}

/** Databases created before the authorization-code grant lack its columns; add them in place. */
function addColumnIfMissing(db: DatabaseSync, column: string, type: string): void {
  const columns = db.prepare('PRAGMA table_info(auth_client)').all() as unknown as { name: string }[];
  if (!columns.some((c) => c.name === column)) {
    db.exec(`ALTER TABLE auth_client ADD COLUMN ${column} ${type}`);
  }
}

function checkRegistration(r: ClientRegistration): void {
  if (!r.clientId || /\s/.test(r.clientId)) {
    throw new TypeError('clientId must be a non-empty string without spaces');
  }
  if (r.secret !== undefined && r.secret.length < 8) {
    throw new TypeError('client secret must be at least 8 characters');
  }
  if (r.scopes.length === 0 || r.scopes.some((s) => !s || /\s/.test(s))) {
    throw new TypeError('scopes must be a non-empty list of scopes without spaces');
  }
  if (r.jwks !== undefined && r.jwksUri !== undefined) {
    throw new TypeError('register either jwks or jwksUri, not both');
  }
  if (r.jwks !== undefined && (!Array.isArray(r.jwks.keys) || r.jwks.keys.some((k) => 'd' in k || k.kty === 'oct'))) {
    throw new TypeError('jwks must be a JWK Set of public keys (no private or symmetric keys)');
  }
  if (r.jwksUri !== undefined && !/^https?:\/\//.test(r.jwksUri)) {
    throw new TypeError('jwksUri must be an http(s) URL');
  }
  if (r.isPublic && (r.secret !== undefined || r.jwks !== undefined || r.jwksUri !== undefined)) {
    throw new TypeError('a public client has no secret or keys');
  }
  if (r.isPublic && (r.redirectUris ?? []).length === 0) {
    throw new TypeError('a public client needs at least one redirect URI');
  }
  if ((r.redirectUris ?? []).some((u) => !/^https?:\/\/[^#]+$/.test(u))) {
    throw new TypeError('redirect URIs must be absolute http(s) URLs without a fragment');
  }
  if (!r.isPublic && r.secret === undefined && r.jwks === undefined && r.jwksUri === undefined) {
    throw new TypeError('a client needs a secret, jwks or jwksUri to authenticate with');
  }
}
