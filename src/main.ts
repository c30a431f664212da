import './runtime/gc-tuning';
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { createApp, createMedplumFrontedApp } from './app';
import { deployBotsToStore } from './bots/deploy-to-store';
import type { Config } from './config/config';
import { ConfigError, loadConfig } from './config/load-config';
import { connectStoreClient, storeConnection } from './client/store-client';
import { seedDemoCases } from './demo/seed-demo-cases';
import { seedDemoData } from './demo/seed-demo-data';
import { seedConformanceResources } from './fhir/seed-conformance';
import { releaseCoreDefinitions } from './fhir/validation';

/** `npm start`: the embedded server (with demo data when started with --demo), or, with `MEDPLUM_BASE_URL`, dermbridge in front of Medplum. */
async function main(): Promise<void> {
  const config = loadConfig(process.env, process.argv.includes('--demo') ? { seedDemoData: true } : {});
  if (config.store.kind === 'medplum') {
    await startInFrontOfMedplum(config);
  } else {
    await startEmbedded(config);
  }
}

/** Start-up order: store and auth (createApp) → conformance resources → demo data → listen. */
async function startEmbedded(config: Config): Promise<void> {
  const dermbridge = createApp(config);
  const { logger } = dermbridge;
  const conformanceChanged = await seedConformanceResources(dermbridge.repo, dermbridge.validator.conformance);
  logger.info({ changed: conformanceChanged, profiles: dermbridge.validator.knownProfiles().length }, 'conformance resources loaded');
  if (config.seedDemoData) {
    const created = await seedDemoData(dermbridge.repo, (done, total) => logger.info(`seeding demo data ${done}/${total}`));
    logger.info({ created }, 'demo data ready');
  }
  // Start-up material (~35 MB of heap): every full collection of a long-running server would mark it again.
  releaseCoreDefinitions();
  const server = dermbridge.app.listen(config.port, config.host, () => {
    logger.info(
      { url: config.baseUrl, fhir: `${config.baseUrl}fhir/R4`, dataDir: config.dataDir, demoClientId: config.demoClient.clientId },
      'dermbridge listening'
    );
    if (config.seedDemoData) {
      // Through the server's own API, now that it answers: the bots triage them like any case.
      void connectStoreClient(storeConnection(config))
        .then((medplum) => seedDemoCases(medplum))
        .then((cases) => logger.info({ cases }, 'demo cases in the review queue'))
        .catch((err: unknown) => logger.warn({ err }, 'demo cases not seeded'));
    }
    logger.info(
      { intake: `${config.baseUrl}intake/`, reviewApp: `${config.baseUrl}ehr`, capabilityStatement: `${config.baseUrl}fhir/R4/metadata` },
      'try these'
    );
  });
  stopOnSignals(server, logger, () => dermbridge.close());
}

/**
 * Production. Start-up order: routes (createMedplumFrontedApp) → bots deployed to Medplum, when
 * configured (before listening, so a healthy dermbridge has its bots in place; a failure stops the
 * start, and the orchestrator's restart retries it) → listen.
 */
async function startInFrontOfMedplum(config: Config): Promise<void> {
  const dermbridge = createMedplumFrontedApp(config);
  const { logger } = dermbridge;
  const medplum = dermbridge.config.store;
  releaseCoreDefinitions();
  if (medplum.deployBotsOnStart) {
    const deployed = await deployBotsToStore(config);
    logger.info({ bots: deployed.map((b) => ({ name: b.name, bot: `Bot/${b.botId}`, subscriptions: b.subscriptions.length })) }, 'bots deployed to Medplum');
  }
  const server = dermbridge.app.listen(config.port, config.host, () => {
    logger.info({ url: config.baseUrl, store: medplum.baseUrl, issuer: medplum.issuer, intake: `${config.baseUrl}intake/` }, 'dermbridge listening in front of Medplum');
  });
  stopOnSignals(server, logger, () => dermbridge.close());
}

function stopOnSignals(server: Server, logger: Logger, close: () => Promise<void>): void {
  server.on('error', (err) => {
    logger.fatal({ err }, 'cannot listen');
    process.exit(1);
  });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      return;
    }
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    server.close(() => {
      close()
        .then(() => process.exit(0))
        .catch((err: unknown) => {
          logger.error({ err }, 'error while closing the store');
          process.exit(1);
        });
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  // A setting is wrong: the message names it; a stack trace would only bury it.
  console.error(err instanceof ConfigError ? `dermbridge cannot start: ${err.message}` : err);
  process.exit(1);
});
