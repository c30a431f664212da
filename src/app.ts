import { FhirRouter } from '@medplum/fhir-router';
import express from 'express';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pino from 'pino';
import type { Logger } from 'pino';
import { AuditLog } from './audit/audit-log';
import type { Auth } from './auth';
import { authorizeInteraction, createAuth } from './auth';
import { fhirUserDirectory } from './auth/fhir-user-directory';
import { createSmartLaunchRoutes } from '../smart-launch/server/routes';
import { createSmartAppRoutes } from '../smart-launch/server/app-routes';
import { caseStoreAtMedplum } from '../smart-launch/server/smart-app-config';
import type { Config, MedplumStoreTarget } from './config/config';
import { buildCapabilityStatement } from './fhir/capability-statement';
import { loadBaseDefinitions } from './fhir/definitions';
import { createFhirRoutes } from './fhir/routes';
import { installUpdateOrCreate } from './fhir/update-or-create';
import { SqliteRepository } from './fhir/store/sqlite-repository';
import type { WriteGuard } from './fhir/store/sqlite-store';
import { SqliteStore } from './fhir/store/sqlite-store';
import { PendingUploadReaper } from './fhir/store/pending-uploads';
import { corsForOrigins } from './http/cors';
import { problem } from './http/problem';
import { createIntake } from './intake';
import { createSyncRoutes } from './sync/routes';
import { requestLog } from './http/request-log';
import { noStore, originsOf, securityHeaders } from './http/security-headers';
import type { WriteRateLimit } from './http/write-rate-limit';
import { DEFAULT_WRITE_RATE_LIMIT, refuseAsProblem, writeRateLimit } from './http/write-rate-limit';
import { taskLifecycleGuard, validationGuard } from './fhir/write-guards';
import type { ResourceValidator } from './fhir/validation';
import { createResourceValidator } from './fhir/validation';
import { startBots } from './bots';
import { createBearerAuthWith } from './auth/bearer-auth';
import { createMedplumTokenVerifier } from './auth/medplum-token-verifier';
import { cachedStoreHealth, checkStoreHealth } from './client/store-health';
import { servedByMedplum } from './http/served-by-medplum';

export const VERSION = '0.1.0';

/** An intake's case transaction follows its uploads within seconds; an hour leaves room for retries. */
const DEFAULT_PENDING_UPLOADS = { graceMs: 60 * 60 * 1000, intervalMs: 10 * 60 * 1000 };

export interface DermbridgeApp {
  readonly app: express.Express;
  readonly config: Config;
  readonly store: SqliteStore;
  /** Unscoped repository: for trusted server-side work (seeding, bots), never for request handling. */
  readonly repo: SqliteRepository;
  readonly reaper: PendingUploadReaper;
  readonly auth: Auth;
  readonly audit: AuditLog;
  readonly logger: Logger;
  readonly validator: ResourceValidator;
  /** Waits for queued writes, then closes the databases. */
  close(): Promise<void>;
}

export interface AppOptions {
  /** Extra write guards (validation, lifecycle) run on every write. */
  readonly guards?: readonly WriteGuard[];
  /** Grace period and interval of the pending upload reaper (default: 1 h, every 10 min). */
  readonly pendingUploads?: { readonly graceMs: number; readonly intervalMs: number };
  readonly logger?: Logger;
  /** Where the app's own logger writes (default stdout); lets a test read what operators would see. */
  readonly logDestination?: pino.DestinationStream;
  /** FHIR writes and intake submissions per patient or clinician (default DEFAULT_WRITE_RATE_LIMIT). */
  readonly writeRateLimit?: WriteRateLimit;
}

/** Production: dermbridge in front of a real Medplum server, which holds the cases and issues the tokens. */
export interface MedplumFrontedApp {
  readonly app: express.Express;
  readonly config: Config & { readonly store: MedplumStoreTarget };
  readonly logger: Logger;
  readonly validator: ResourceValidator;
  /** Nothing local to flush (no database is opened); here so main.ts stops both apps alike. */
  close(): Promise<void>;
}

/**
 * The table of contents of the embedded server (development, tests, `npm start`): builds the
 * store, auth and routes from one validated Config. For `config.store.kind === 'medplum'` use
 * createMedplumFrontedApp.
 * Start-up order: definitions → validator (profiles) → store (migrations) → audit → auth → routes.
 */
export function createApp(config: Config, options: AppOptions = {}): DermbridgeApp {
  if (config.store.kind !== 'embedded') {
    throw new TypeError('createApp builds the embedded server; with MEDPLUM_BASE_URL use createMedplumFrontedApp');
  }
  const logger = createLogger(config, options);
  const validator = loadValidator(config, logger);
  mkdirSync(config.dataDir, { recursive: true });
  // The lifecycle first: an illegal transition is a more useful answer than what the target state lacks.
  const guards: WriteGuard[] = [taskLifecycleGuard, validationGuard(validator), ...(options.guards ?? [])];
  const store = new SqliteStore({ path: join(config.dataDir, 'dermbridge.sqlite'), binaryDir: join(config.dataDir, 'binary'), baseUrl: config.baseUrl, guards });
  const repo = new SqliteRepository(store);
  // Intake originals that no case claimed (a crash between upload and case transaction): expunged.
  const reaper = new PendingUploadReaper(store, (id) => repo.deleteResource('Binary', id), {
    ...(options.pendingUploads ?? DEFAULT_PENDING_UPLOADS),
    onError: (err) => logger.warn({ err }, 'pending upload reaper'),
  });
  reaper.start();
  const audit = new AuditLog(store);
  // Auth has its own file: its synchronous writes must never land inside, or wait on, a FHIR transaction.
  const authDb = new DatabaseSync(join(config.dataDir, 'auth.sqlite'));
  authDb.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000');
  const directory = fhirUserDirectory(repo);
  const auth = createAuth({ config, db: authDb, logger, directory, audit });

  const app = createHttpApp(config, logger);
  app.get('/healthcheck', (_req, res) => {
    res.json({ ok: true, version: VERSION, store: 'embedded' });
  });
  app.use(auth.router);
  app.use(createSmartLaunchRoutes({ config, auth, directory, repo, db: authDb, audit }));
  // Bots: seeded Bot/Subscription resources, the after-commit dispatcher, $execute, dead letters.
  const bots = startBots({ config, store, repo, audit, logger });
  app.use('/admin', bots.adminRoutes(auth.bearer, authorizeInteraction));
  app.use('/fhir/R4', writeRateLimit(options.writeRateLimit ?? DEFAULT_WRITE_RATE_LIMIT, auth.bearer));
  app.use(
    '/fhir/R4',
    createFhirRoutes({
      baseUrl: config.baseUrl,
      maxBodyBytes: config.maxBodyBytes,
      router: bots.installExecute(installUpdateOrCreate(new FhirRouter())),
      repo,
      bearer: auth.bearer,
      authorize: authorizeInteraction,
      audit,
      capabilityStatement: buildCapabilityStatement({ baseUrl: config.baseUrl, version: VERSION, profiles: validator.profilesByType() }),
      logError: (err) => logger.error({ err }, 'unhandled error in FHIR request'),
    })
  );
  app.use(createSyncRoutes({ config, bearer: auth.bearer, embedded: { repo, audit }, logError: (err) => logger.error({ err }, 'sync admin request failed') }));
  app.use('/intake', writeRateLimit(options.writeRateLimit ?? DEFAULT_WRITE_RATE_LIMIT, auth.bearer, refuseAsProblem));
  app.use('/intake', createIntake({ config, bearer: auth.bearer, validator, logger }));
  useFallbacks(app, logger);

  return {
    app,
    config,
    store,
    repo,
    auth,
    audit,
    logger,
    validator,
    reaper,
    async close() {
      await reaper.stop();
      audit.stop();
      await store.close();
      authDb.close();
    },
  };
}

/**
 * The table of contents in production (`MEDPLUM_BASE_URL`): Medplum is the FHIR server, the
 * authorization server and the bot runtime, so none of the embedded ones is built: no SQLite case
 * store or auth database is opened, `/fhir/R4`, `/oauth2/*`, `/auth/me`, the JWKS and SMART
 * discovery, the bot dispatcher and the development EHR are not mounted (`servedByMedplum` says
 * where to go instead). dermbridge keeps what Medplum lacks: intake, sync and bulk, each acting on
 * Medplum with the caller's own Medplum-issued token (verified against Medplum's JWKS) or, for
 * server-side work, dermbridge's ClientApplication. The SMART review app is served with Medplum as
 * its case store: it exchanges the EHR's access token at Medplum's token endpoint (ADR 0007), and
 * its launch state is sealed with a key derived from dermbridge's Medplum client secret, which
 * every replica shares (nothing kept per process).
 * Start-up order: definitions → validator (profiles) → token verifier → routes.
 */
export function createMedplumFrontedApp(config: Config, options: AppOptions = {}): MedplumFrontedApp {
  if (config.store.kind !== 'medplum') {
    throw new TypeError('createMedplumFrontedApp needs MEDPLUM_BASE_URL (config.store.kind === "medplum")');
  }
  const medplum = config.store;
  const logger = createLogger(config, options);
  const validator = loadValidator(config, logger);
  const bearer = createBearerAuthWith(createMedplumTokenVerifier({ issuer: medplum.issuer, jwksUrl: medplum.jwksUrl }), { signer: 'Medplum' });

  // The review app in the browser calls Medplum (its public URL) for cases and the token exchange.
  const app = createHttpApp(config, logger, [medplum.issuer]);
  const storeHealth = cachedStoreHealth(() => checkStoreHealth(medplum.baseUrl));
  let wasHealthy = true;
  app.get('/healthcheck', (_req, res) => {
    void storeHealth().then((health) => {
      if (health.ok !== wasHealthy) {
        wasHealthy = health.ok;
        // The reason names the internal Medplum URL: for the operator's log, not for the public answer.
        logger[health.ok ? 'info' : 'warn']({ store: medplum.baseUrl, reason: health.reason }, health.ok ? 'case store healthy again' : 'case store unhealthy');
      }
      // 503 while Medplum is down: dermbridge can do nothing useful without its store.
      res.status(health.ok ? 200 : 503).json({ ok: health.ok, version: VERSION, store: 'medplum', medplum: { ok: health.ok } });
    });
  });
  app.use(MEDPLUM_SURFACES, servedByMedplum(medplum.issuer));
  app.use(createSmartAppRoutes({ config, caseStore: caseStoreAtMedplum(medplum.issuer), launchStateSecret: medplum.clientSecret }));
  app.use(createSyncRoutes({ config, bearer, logError: (err) => logger.error({ err }, 'sync admin request failed') }));
  app.use('/intake', writeRateLimit(options.writeRateLimit ?? DEFAULT_WRITE_RATE_LIMIT, bearer, refuseAsProblem));
  app.use('/intake', createIntake({ config, bearer, validator, logger }));
  useFallbacks(app, logger);
  return { app, config: { ...config, store: medplum }, logger, validator, close: async () => undefined };
}

/** What Medplum serves itself in production: FHIR, OAuth, session, keys, SMART discovery. */
const MEDPLUM_SURFACES = ['/fhir', '/oauth2', '/auth', '/.well-known/jwks.json', '/.well-known/smart-configuration', '/.well-known/openid-configuration'];

function createLogger(config: Config, options: AppOptions): Logger {
  return (
    options.logger ??
    pino({ level: config.logLevel, redact: ['req.headers.authorization', '*.client_secret', '*.secret'] }, options.logDestination ?? pino.destination(1))
  );
}

/** FHIR definitions and our profiles: the embedded store validates writes with them, intake its forms. */
function loadValidator(config: Config, logger: Logger): ResourceValidator {
  loadBaseDefinitions();
  const validator = createResourceValidator({ profilesDir: config.profilesDir });
  for (const vs of validator.unexpandableValueSets()) {
    logger.debug({ valueSet: vs.url, reason: vs.reason }, 'required binding not checked: value set cannot be expanded');
  }
  return validator;
}

/** What every request passes first, whichever the store: logging, CORS, security headers, no caching. */
function createHttpApp(config: Config, logger: Logger, caseStoreUrls: readonly string[] = []): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(requestLog(logger));
  app.use(corsForOrigins(config.corsOrigins));
  app.use(securityHeaders(config.frameAncestors, originsOf([...config.smart.ehrs.map((ehr) => ehr.issuer), ...caseStoreUrls])));
  app.use(noStore);
  return app;
}

/** Unknown routes and unhandled errors answer problem details. */
function useFallbacks(app: express.Express, logger: Logger): void {
  app.use((req, res) => problem(res, 404, 'not-found', `No route for ${req.method} ${req.path}`));
  app.use(((err, _req, res, _next) => {
    logger.error({ err }, 'unhandled error');
    problem(res, 500, 'internal', 'Internal server error');
  }) as express.ErrorRequestHandler);
}
