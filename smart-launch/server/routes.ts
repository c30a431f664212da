/**
 * Wiring only, embedded server: the review app (app-routes.ts, as in front of Medplum) and, in
 * development, the EHR that launches it.
 *   /smart/*                      the app, its config and launch-state sealing (app-routes.ts)
 *   GET  /smart/ehr-style.json    the development EHR's SMART style (`smart_style_url`)
 *   POST /smart/case-store-token  EHR id_token + access token → dermbridge case-store token (src/auth/case-store-token-exchange.ts)
 *   GET  /ehr                     development EHR: pick a clinician and patient, launch the app
 *   POST /ehr/launch              stores the launch context, redirects to the app with iss + launch
 *   GET  /ehr/chart               the app embedded in a mock chart (iframe, no patient banner needed)
 */
import type { DatabaseSync } from 'node:sqlite';
import express, { Router } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { FhirRepository } from '@medplum/fhir-router';
import type { Auth, UserDirectory } from '../../src/auth';
import type { AuditSink } from '../../src/audit/audit-entry';
import { createCaseStoreTokenExchange } from '../../src/auth/case-store-token-exchange';
import { createEhrIdTokenVerifier } from '../../src/auth/ehr-id-token';
import { OAuthError, sendOAuthError } from '../../src/auth/oauth-error';
import type { Config } from '../../src/config/config';
import { createEhrHandlers } from './dev-ehr';
import { createSmartAppRoutes } from './app-routes';
import { launchStateSecretFrom } from './sealed-launch-state';

export interface SmartLaunchDeps {
  readonly config: Config;
  readonly auth: Auth;
  readonly directory: UserDirectory;
  /** Unscoped: only to look up demo patients and existing cases when seeding demo cases. */
  readonly repo: FhirRepository;
  /** The auth database: the launch-state sealing key lives beside the signing keys. */
  readonly db: DatabaseSync;
  /** Where the case-store token exchange records its grants and refusals. */
  readonly audit?: AuditSink;
}

export function createSmartLaunchRoutes(deps: SmartLaunchDeps): Router {
  const router = Router();
  router.get('/smart/ehr-style.json', (_req, res) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.json(DEV_EHR_STYLE);
  });
  if (deps.config.smart.ehrs.some((ehr) => ehr.caseStoreAccess !== undefined)) {
    router.post('/smart/case-store-token', exchangeRateLimit(), express.urlencoded({ extended: false, limit: '32kb' }), createCaseStoreTokenExchange({
      ehrs: deps.config.smart.ehrs,
      verifyIdToken: createEhrIdTokenVerifier(),
      repo: deps.repo,
      issueAccessToken: (grant) => deps.auth.issueAccessToken(grant),
      clientId: deps.config.smart.clientId,
      fhirBaseUrl: deps.auth.fhirBaseUrl,
      audit: deps.audit,
    }));
  }
  router.use(
    createSmartAppRoutes({
      config: deps.config,
      caseStore: { fhirBaseUrl: deps.auth.fhirBaseUrl, tokenEndpoint: deps.auth.endpoints.tokenEndpoint },
      launchStateSecret: launchStateSecretFrom(deps.db),
    }),
  );
  if (deps.config.smart.devEhr) {
    const ehr = createEhrHandlers(deps);
    router.get('/ehr', ehr.picker);
    router.post('/ehr/launch', express.urlencoded({ extended: false, limit: '4kb' }), ehr.launch);
    router.get('/ehr/chart', ehr.chart);
    router.post('/ehr/portal', express.urlencoded({ extended: false, limit: '4kb' }), ehr.portal);
  }
  return router;
}

/** Each exchange costs the EHR two reads: 120 a minute per address is ample for re-exchanges before expiry. */
function exchangeRateLimit() {
  return rateLimit({
    limit: 120,
    windowMs: 60_000,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (_req, res) => sendOAuthError(res, new OAuthError('temporarily_unavailable', 'Too many token exchanges; retry later')),
  });
}

/** SMART App Launch "styling" JSON: the development EHR's look, which the app adopts. */
const DEV_EHR_STYLE = {
  color_background: '#f6f8fa',
  color_error: '#b3261e',
  color_highlight: '#0b5cad',
  color_modal_backdrop: 'rgba(0,0,0,0.4)',
  color_success: '#1e7a3a',
  color_text: '#1b1f24',
  dim_border_radius: '6px',
  dim_font_size: '15px',
  dim_spacing_size: '16px',
  font_family_body: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
  font_family_heading: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
};
