/**
 * Parking for a SMART launch's client state (fhirclient's state: endpoints, PKCE verifier, client
 * id) across the redirect to the authorization server, for embedded browsers that give a
 * cross-site iframe no storage at all. Keyed by the OAuth `state` (≥ 192 bits from the app), taken
 * once, gone after five minutes, capped in size and number. Kept in the auth database so every
 * server process sharing it agrees.
 *
 * SECURITY: whoever knows a `state` before the app takes it back could read its PKCE verifier; the
 * state only travels in the redirect URL, next to the one-time code, and the app takes it back the
 * moment that URL loads, so the window is the page load. No token is ever parked here.
 */
import type { DatabaseSync } from 'node:sqlite';
import type { RequestHandler } from 'express';

const LIFETIME_MS = 5 * 60_000;
const MAX_ROWS = 2_000;
export const MAX_STATE_BYTES = 8 * 1024;
const STATE_PATTERN = /^[A-Za-z0-9_-]{32,128}$/;

export interface LaunchStateHandlers {
  readonly park: RequestHandler;
  readonly take: RequestHandler;
}

export function createLaunchStateHandlers(db: DatabaseSync, now: () => number = Date.now): LaunchStateHandlers {
  db.exec('CREATE TABLE IF NOT EXISTS smart_launch_state (state TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER NOT NULL) STRICT');
  const purge = db.prepare('DELETE FROM smart_launch_state WHERE expires_at < ?');
  const count = db.prepare('SELECT count(*) AS n FROM smart_launch_state');
  const insert = db.prepare('INSERT INTO smart_launch_state (state, value, expires_at) VALUES (?, ?, ?) ON CONFLICT (state) DO NOTHING');
  const take = db.prepare('DELETE FROM smart_launch_state WHERE state = ? AND expires_at >= ? RETURNING value');

  return {
    park(req, res) {
      const state = req.params.state as string;
      const value = typeof req.body === 'string' ? req.body : '';
      if (!STATE_PATTERN.test(state) || !isJsonObject(value)) {
        res.status(400).json({ error: 'invalid_request', error_description: 'state must be 32-128 base64url characters and the body a JSON object' });
        return;
      }
      purge.run(now());
      if ((count.get() as { n: number }).n >= MAX_ROWS) {
        res.status(503).json({ error: 'temporarily_unavailable', error_description: 'Too many launches in progress' });
        return;
      }
      const inserted = insert.run(state, value, now() + LIFETIME_MS);
      // A state is parked once: a second PUT cannot replace what the app parked.
      res.status(inserted.changes === 1 ? 204 : 409).end();
    },
    take(req, res) {
      const row = take.get(req.params.state as string, now()) as { value: string } | undefined;
      if (!row) {
        res.status(404).json({ error: 'invalid_request', error_description: 'Unknown, used or expired launch state' });
        return;
      }
      res.type('application/json').send(row.value);
    },
  };
}

function isJsonObject(text: string): boolean {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
  } catch {
    return false;
  }
}
