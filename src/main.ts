import { createApp } from './app';
import { loadConfig } from './config/load-config';
import { seedDemoData } from './demo/seed-demo-data';
import { seedConformanceResources } from './fhir/seed-conformance';

/** `npm start`: the embedded server, with demo data when started with --demo. */
async function main(): Promise<void> {
  const config = loadConfig(process.env, process.argv.includes('--demo') ? { seedDemoData: true } : {});
  const dermbridge = createApp(config);
  const { logger } = dermbridge;
  const conformanceChanged = await seedConformanceResources(dermbridge.repo, dermbridge.validator.conformance);
  logger.info({ changed: conformanceChanged, profiles: dermbridge.validator.knownProfiles().length }, 'conformance resources loaded');
  if (config.seedDemoData) {
    const created = await seedDemoData(dermbridge.repo, (done, total) => logger.info(`seeding demo data ${done}/${total}`));
    logger.info({ created }, 'demo data ready');
  }
  const server = dermbridge.app.listen(config.port, config.host, () => {
    logger.info(
      { url: config.baseUrl, fhir: `${config.baseUrl}fhir/R4`, dataDir: config.dataDir, demoClientId: config.demoClient.clientId },
      'dermbridge listening'
    );
    logger.info(
      { intake: `${config.baseUrl}intake/`, reviewApp: `${config.baseUrl}ehr`, capabilityStatement: `${config.baseUrl}fhir/R4/metadata` },
      'try these'
    );
  });
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
      dermbridge
        .close()
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
  console.error(err);
  process.exit(1);
});
