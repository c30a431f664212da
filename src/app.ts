import { FhirRouter } from '@medplum/fhir-router';
import express from 'express';
import helmet from 'helmet';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pino from 'pino';
import type { Logger } from 'pino';
import { AuditLog } from './audit/audit-log';
import type { Auth } from './auth';
import { authorizeInteraction, createAuth } from './auth';
import type { Config } from './config/config';
import { buildCapabilityStatement } from './fhir/capability-statement';
import { loadBaseDefinitions } from './fhir/definitions';
import { createFhirRoutes } from './fhir/routes';
import { installUpdateOrCreate } from './fhir/update-or-create';
import { SqliteRepository } from './fhir/store/sqlite-repository';
import type { WriteGuard } from './fhir/store/sqlite-store';
import { SqliteStore } from './fhir/store/sqlite-store';
import { problem } from './http/problem';
import { createIntake } from './intake';
import { taskLifecycleGuard, validationGuard } from './fhir/write-guards';
import type { ResourceValidator } from './fhir/validation';
import { createResourceValidator } from './fhir/validation';

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
}

/**
 * The table of contents: builds the store, auth and routes from one validated Config.
 * Start-up order: definitions → validator (profiles) → store (migrations) → audit → auth → routes.
 */
export function createApp(config: Config, options: AppOptions = {}): DermbridgeApp {
  const logger = options.logger ?? pino({ level: config.logLevel, redact: ['req.headers.authorization', '*.client_secret', '*.secret'] });
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
  const auth = createAuth({ config, db: authDb, logger });

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(helmet());
  app.get('/healthcheck', (_req, res) => {
    res.json({ ok: true, version: VERSION, store: 'embedded' });
  });
  app.use(auth.router);
  app.use(
    '/fhir/R4',
    createFhirRoutes({
      baseUrl: config.baseUrl,
      maxBodyBytes: config.maxBodyBytes,
      router: installUpdateOrCreate(new FhirRouter()),
      repo,
      bearer: auth.bearer,
      authorize: authorizeInteraction,
      audit,
      capabilityStatement: buildCapabilityStatement({ baseUrl: config.baseUrl, version: VERSION, profiles: validator.profilesByType() }),
      logError: (err) => logger.error({ err }, 'unhandled error in FHIR request'),
    })
  );
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
