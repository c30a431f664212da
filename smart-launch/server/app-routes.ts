/**
 * Wiring only: the review app as both stores serve it (embedded, and in front of Medplum).
 *   GET  /smart/*                      the app (launch.html, index.html, ES modules, CSS)
 *   GET  /smart/config.json            EHRs, client ids, the case store (public: ids and URLs, no secrets)
 *   GET  /smart/vendor/fhir-client.js  the official SMART client's browser bundle
 *   POST /smart/launch-state           seal a launch state into the OAuth `state` (storage-less iframes)
 *   POST /smart/launch-state/open      open it again after the redirect
 * Nothing here keeps state: the launch state is sealed, not stored (sealed-launch-state.ts).
 */
import { dirname, join } from 'node:path';
import express, { Router } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { Config } from '../../src/config/config';
import { createSealedLaunchState, MAX_STATE_BYTES } from './sealed-launch-state';
import { smartAppConfig, type CaseStoreEndpoints } from './smart-app-config';

export interface SmartAppDeps {
  readonly config: Config;
  readonly caseStore: CaseStoreEndpoints;
  /** Seals launch states; every replica must have the same one. */
  readonly launchStateSecret: string | Uint8Array;
}

const APP_DIR = join(__dirname, '..', 'app');
const FHIR_CLIENT_BUNDLE = join(dirname(require.resolve('fhirclient/package.json')), 'build', 'fhir-client.min.js');

export function createSmartAppRoutes(deps: SmartAppDeps): Router {
  const router = Router();
  const appConfig = smartAppConfig(deps.config, deps.caseStore);
  router.get('/smart/config.json', (_req, res) => {
    res.json(appConfig);
  });
  router.get('/smart/vendor/fhir-client.js', (_req, res) => {
    res.type('text/javascript').sendFile(FHIR_CLIENT_BUNDLE);
  });
  const launchState = createSealedLaunchState(deps.launchStateSecret);
  const body = express.text({ type: ['application/json', 'text/plain'], limit: MAX_STATE_BYTES });
  router.post('/smart/launch-state', launchStateRateLimit(), body, launchState.seal);
  router.post('/smart/launch-state/open', launchStateRateLimit(), body, launchState.open);
  router.use('/smart', express.static(APP_DIR, { index: 'index.html', fallthrough: true }));
  return router;
}

/** Unauthenticated but cheap (no storage): a cap per address keeps it from being a free cipher service. */
function launchStateRateLimit() {
  return rateLimit({
    limit: 120,
    windowMs: 60_000,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (_req, res) => res.status(429).json({ error: 'temporarily_unavailable', error_description: 'Too many launches; retry later' }),
  });
}
