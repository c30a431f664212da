/** The auth concern with the development EHR on: a public review app, a fake directory and a movable clock. */
import { createHash, randomBytes } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import express, { type Express } from 'express';
import { createAuth, type Auth, type UserDirectory } from '../../src/auth';
import type { PractitionerLookup } from '../../src/auth/fhir-user-directory';
import { testConfig } from '../auth/auth-test-app';

export const FHIR_BASE = 'http://dermbridge.test/fhir/R4';
export const APP = { clientId: 'dermbridge-review', redirectUri: 'http://dermbridge.test/smart/index.html' };
export const DERMATOLOGIST = 'Practitioner/derm-1';

export const directory: UserDirectory & PractitionerLookup = {
  practitioners: async () => [{ id: DERMATOLOGIST, display: 'Dr Imani Okafor (Dermatologist)' }],
  patients: async () => [{ id: 'pat-1', display: 'Maria Garcia' }],
  emailOf: async (reference) => (reference === DERMATOLOGIST ? 'imani.okafor@clinic.example' : undefined),
  findPractitionerIds: async () => [],
};

export interface SmartAuthApp {
  readonly app: Express;
  readonly auth: Auth;
  /** Moves the authorization server's clock forward. */
  advance(seconds: number): void;
}

export function createSmartAuthApp(): SmartAuthApp {
  let offset = 0;
  const config = testConfig({ smart: { clientId: APP.clientId, ehrs: [], devEhr: true } });
  const auth = createAuth({ config, db: new DatabaseSync(':memory:'), directory, now: () => Date.now() + offset });
  const app = express();
  app.use(auth.router);
  app.get('/fhir/R4/whoami', auth.bearer, (_req, res) => {
    res.json(res.locals.access);
  });
  return { app, auth, advance: (s) => { offset += s * 1000; } };
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export const newState = (): string => randomBytes(24).toString('base64url');
