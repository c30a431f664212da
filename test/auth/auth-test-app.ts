/** A tiny app with only the auth concern mounted, on its own in-memory database. */
import { DatabaseSync } from 'node:sqlite';
import express, { type Express } from 'express';
import { loadConfig } from '../../src/config/load-config';
import type { Config } from '../../src/config/config';
import { createAuth, type Auth } from '../../src/auth';

export const BASE_URL = 'http://dermbridge.test/';
export const TOKEN_URL = 'http://dermbridge.test/oauth2/token';
export const DEMO = { clientId: 'demo-client', clientSecret: 'demo-secret-1234' };

export interface TestAuthApp {
  readonly app: Express;
  readonly auth: Auth;
  readonly db: DatabaseSync;
  readonly config: Config;
}

export function testConfig(overrides: Partial<Config> = {}): Config {
  return loadConfig({}, { baseUrl: BASE_URL, demoClient: DEMO, logLevel: 'silent', ...overrides });
}

/** Mounts the auth router and one bearer-protected route that echoes the access context. */
export function createTestAuthApp(options: { db?: DatabaseSync; config?: Config; tokenRateLimit?: { limit: number; windowMs: number } } = {}): TestAuthApp {
  const db = options.db ?? new DatabaseSync(':memory:');
  const config = options.config ?? testConfig();
  const auth = createAuth({ config, db, tokenRateLimit: options.tokenRateLimit });
  const app = express();
  app.use(auth.router);
  app.get('/fhir/R4/whoami', auth.bearer, (_req, res) => {
    res.json(res.locals.access);
  });
  return { app, auth, db, config };
}
