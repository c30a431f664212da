import type { FhirRouter } from '@medplum/fhir-router';
import type { RequestHandler, Router } from 'express';
import type { Logger } from 'pino';
import type { AuditSink } from '../audit/audit-entry';
import { connectStoreClient, storeConnection } from '../client/store-client';
import type { Config } from '../config/config';
import type { Authorize } from '../fhir/access/access-scoped-repository';
import type { SqliteRepository } from '../fhir/store/sqlite-repository';
import type { SqliteStore } from '../fhir/store/sqlite-store';
import { BOT_DEFINITIONS, BOT_HANDLERS } from './bot-catalog';
import type { RetryPolicy } from './bot-dispatcher';
import { BotDispatcher } from './bot-dispatcher';
import { installExecuteOperation } from './execute-operation';
import { createBotAdminRoutes } from './routes';
import { seedBots } from './seed-bots';

export interface BotsDeps {
  readonly config: Config;
  readonly store: SqliteStore;
  readonly repo: SqliteRepository;
  readonly audit: AuditSink;
  readonly logger: Logger;
  readonly retry?: RetryPolicy;
}

export interface Bots {
  readonly dispatcher: BotDispatcher;
  /** Settles once the Bots and Subscriptions are seeded and the dispatcher has started. */
  readonly ready: Promise<void>;
  installExecute(router: FhirRouter): FhirRouter;
  adminRoutes(bearer: RequestHandler, authorize: Authorize): Router;
  stop(): Promise<void>;
}

/**
 * The embedded server's bot runtime: seeds the Bot and Subscription resources, then starts the
 * dispatcher (only after seeding, so no committed change is matched against a partial set of
 * subscriptions). The bots talk to the store as the system client, over the same HTTP API a real
 * Medplum server offers.
 */
export function startBots(deps: BotsDeps): Bots {
  const dispatcher = new BotDispatcher({
    store: deps.store,
    repo: deps.repo,
    audit: deps.audit,
    logger: deps.logger,
    definitions: BOT_DEFINITIONS,
    handlers: BOT_HANDLERS,
    connect: () => connectStoreClient(storeConnection(deps.config)),
    retry: deps.retry,
  });
  const ready = seedBots(deps.repo, BOT_DEFINITIONS).then(() => dispatcher.start());
  ready.catch((err: unknown) => deps.logger.error({ err }, 'bots could not start'));
  // The app closes the store on shutdown; the dispatcher must finish its run first, so no bot
  // write lands on a closed database. (A close hook on DermbridgeApp would be the cleaner seam.)
  const closeStore = deps.store.close.bind(deps.store);
  deps.store.close = async () => {
    await ready.catch(() => undefined);
    await dispatcher.stop();
    await closeStore();
  };
  return {
    dispatcher,
    ready,
    installExecute: (router) => installExecuteOperation(router, dispatcher),
    adminRoutes: (bearer, authorize) => createBotAdminRoutes(dispatcher, bearer, authorize),
    async stop() {
      await ready.catch(() => undefined);
      await dispatcher.stop();
    },
  };
}
