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
import type { Config } from './config/config';
import { buildCapabilityStatement } from './fhir/capability-statement';
import { loadBaseDefinitions } from './fhir/definitions';
import { createFhirRoutes } from './fhir/routes';
import { installUpdateOrCreate } from './fhir/update-or-create';
import { SqliteRepository } from './fhir/store/sqlite-repository';
import type { WriteGuard } from './fhir/store/sqlite-store';
import { SqliteStore } from './fhir/store/sqlite-store';
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

export const VERSION = '0.1.0';

export interface DermbridgeApp {
  readonly app: express.Express;
  readonly config: Config;
  readonly store: SqliteStore;
  /** Unscoped repository: for trusted server-side work (seeding, bots), never for request handling. */
  readonly repo: SqliteRepository;
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
  readonly logger?: Logger;
  /** Where the app's own logger writes (default stdout); lets a test read what operators would see. */
  readonly logDestination?: pino.DestinationStream;
  /** FHIR writes and intake submissions per patient or clinician (default DEFAULT_WRITE_RATE_LIMIT). */
  readonly writeRateLimit?: WriteRateLimit;
}

/**
 * The table of contents: builds the store, auth and routes from one validated Config.
 * Start-up order: definitions → validator (profiles) → store (migrations) → audit → auth → routes.
 */
export function createApp(config: Config, options: AppOptions = {}): DermbridgeApp {
  const logger =
    options.logger ??
    pino({ level: config.logLevel, redact: ['req.headers.authorization', '*.client_secret', '*.secret'] }, options.logDestination ?? pino.destination(1));
  loadBaseDefinitions();
  mkdirSync(config.dataDir, { recursive: true });
  const validator = createResourceValidator({ profilesDir: config.profilesDir });
  for (const vs of validator.unexpandableValueSets()) {
    logger.debug({ valueSet: vs.url, reason: vs.reason }, 'required binding not checked: value set cannot be expanded');
  }
  // The lifecycle first: an illegal transition is a more useful answer than what the target state lacks.
  const guards: WriteGuard[] = [taskLifecycleGuard, validationGuard(validator), ...(options.guards ?? [])];
  const store = new SqliteStore({ path: join(config.dataDir, 'dermbridge.sqlite'), baseUrl: config.baseUrl, guards });
  const repo = new SqliteRepository(store);
  const audit = new AuditLog(store);
  // Auth has its own file: its synchronous writes must never land inside, or wait on, a FHIR transaction.
  const authDb = new DatabaseSync(join(config.dataDir, 'auth.sqlite'));
  authDb.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000');
  const directory = fhirUserDirectory(repo);
  const auth = createAuth({ config, db: authDb, logger, directory });

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(requestLog(logger));
  app.use(corsForOrigins(config.corsOrigins));
  app.use(securityHeaders(config.frameAncestors, originsOf(config.smart.ehrs.map((ehr) => ehr.issuer))));
  app.use(noStore);
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
  app.use(createSyncRoutes({ config, bearer: auth.bearer, logError: (err) => logger.error({ err }, 'sync admin request failed') }));
  app.use('/intake', writeRateLimit(options.writeRateLimit ?? DEFAULT_WRITE_RATE_LIMIT, auth.bearer, refuseAsProblem));
  app.use('/intake', createIntake({ config, bearer: auth.bearer, validator, logger }));
  app.use((req, res) => problem(res, 404, 'not-found', `No route for ${req.method} ${req.path}`));
  app.use(((err, _req, res, _next) => {
    logger.error({ err }, 'unhandled error');
    problem(res, 500, 'internal', 'Internal server error');
  }) as express.ErrorRequestHandler);

  return {
    app,
    config,
    store,
    repo,
    auth,
    audit,
    logger,
    validator,
    async close() {
      await store.close();
      authDb.close();
    },
  };
}
