/**
 * A SMART launch's client state (fhirclient's: endpoints, client id, PKCE verifier), carried across
 * the redirect to the authorization server *inside the OAuth `state` parameter*, sealed, for
 * embedded browsers that give a cross-site iframe no storage at all. Nothing is stored anywhere:
 * the app asks us to seal the state before it leaves (`POST /smart/launch-state`), sends the sealed
 * value as `state`, and asks us to open it when the authorization server sends the browser back
 * (`POST /smart/launch-state/open`). So any replica with the same key opens what another sealed, and
 * no process holds launch state (docs/adr/0007-case-store-token-exchange.md, "launch state").
 *
 * Sealing: the JSON, deflated, in AES-256-GCM (RFC 5116) with a key derived by HKDF-SHA256
 * (RFC 5869) from the server's secret; the expiry is inside the authenticated plaintext. The EHR's
 * authorization server, its logs and the browser history see only ciphertext; a changed byte fails.
 *
 * SECURITY: like a state parked on a server, a sealed state opens for whoever presents it before
 * it expires (five minutes); it is not single-use. It holds the PKCE verifier, which is worth
 * something only with the one-time authorization code that travels next to it. No token is sealed.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { RequestHandler } from 'express';

const LIFETIME_MS = 5 * 60_000;
export const MAX_STATE_BYTES = 8 * 1024;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** base64url of at least IV + tag; at most what a browser keeps in a URL comfortably. */
const SEALED_PATTERN = /^[A-Za-z0-9_-]{38,6000}$/;

export interface LaunchStateHandlers {
  readonly seal: RequestHandler;
  readonly open: RequestHandler;
}

/** `secret`: shared by every replica (embedded: the auth database; Medplum mode: dermbridge's client secret there). */
export function createSealedLaunchState(secret: string | Uint8Array, now: () => number = Date.now): LaunchStateHandlers {
  const key = Buffer.from(hkdfSync('sha256', secret, 'dermbridge', 'smart launch state v1', 32));
  return {
    seal(req, res) {
      const value = typeof req.body === 'string' ? req.body : '';
      if (!isJsonObject(value)) {
        res.status(400).json({ error: 'invalid_request', error_description: 'The body must be a JSON object' });
        return;
      }
      res.json({ state: seal(key, JSON.stringify({ exp: now() + LIFETIME_MS, value })) });
    },
    open(req, res) {
      const sealed = typeof req.body === 'string' ? req.body.trim() : '';
      const opened = SEALED_PATTERN.test(sealed) ? unseal(key, sealed) : undefined;
      const parsed = opened === undefined ? undefined : (JSON.parse(opened) as { exp: number; value: string });
      if (!parsed || parsed.exp < now()) {
        res.status(404).json({ error: 'invalid_request', error_description: 'Unknown, altered or expired launch state' });
        return;
      }
      res.type('application/json').send(parsed.value);
    },
  };
}

function seal(key: Buffer, plaintext: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(deflateRawSync(plaintext)), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
}

function unseal(key: Buffer, sealed: string): string | undefined {
  const bytes = Buffer.from(sealed, 'base64url');
  if (bytes.length < IV_BYTES + TAG_BYTES) {
    return undefined;
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    const body = Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]);
    return inflateRawSync(body).toString('utf8');
  } catch {
    // A wrong key, an altered byte or a truncated value: all the same to the caller.
    return undefined;
  }
}

function isJsonObject(text: string): boolean {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
  } catch {
    return false;
  }
}

/** The embedded server's sealing secret: random once, kept in the auth database every process shares. */
export function launchStateSecretFrom(db: DatabaseSync): Buffer {
  db.exec('CREATE TABLE IF NOT EXISTS smart_launch_state_key (id INTEGER PRIMARY KEY CHECK (id = 1), secret BLOB NOT NULL) STRICT');
  db.prepare('INSERT INTO smart_launch_state_key (id, secret) VALUES (1, ?) ON CONFLICT (id) DO NOTHING').run(randomBytes(32));
  const row = db.prepare('SELECT secret FROM smart_launch_state_key WHERE id = 1').get() as { secret: Uint8Array };
  return Buffer.from(row.secret);
}
