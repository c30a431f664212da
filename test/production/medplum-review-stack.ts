/**
 * Production with the review app, on loopback: "Epic" (an embedded dermbridge playing the EHR, host
 * `localhost`), "Medplum" (an embedded dermbridge standing in for Medplum: the case store and its
 * token exchange, `127.0.0.1`), and the production dermbridge (`createMedplumFrontedApp`,
 * `127.0.0.1`, another port) serving the app. Epic and the app are different sites to the browser,
 * as in a real deployment; Medplum is another origin (CORS).
 * The stand-in plays Medplum's ClientApplication with `identityProvider.userInfoUrl` = Epic's
 * UserInfo endpoint, mapping users by email (Medplum's default).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSearchRequest } from '@medplum/core';
import type { Patient, Practitioner } from '@medplum/fhirtypes';
import pino from 'pino';
import { createApp, createMedplumFrontedApp, type DermbridgeApp, type MedplumFrontedApp } from '../../src/app';
import { REVIEW_APP_SCOPES } from '../../src/auth';
import type { SmartEhr } from '../../src/config/config';
import { loadConfig } from '../../src/config/load-config';
import { DEMO_IDENTIFIER_SYSTEM, seedDemoData } from '../../src/demo/seed-demo-data';
import { seedConformanceResources } from '../../src/fhir/seed-conformance';
import { postTransactionOverHttp, seedDemoCases } from '../../smart-launch/server/demo-cases';
import { REVIEW_APP_SCOPE } from '../../smart-launch/server/smart-app-config';

export const EPIC_CLIENT_ID = 'dermbridge-review-at-epic';
/** The ClientApplication at "Medplum" that exchanges Epic's access tokens. */
export const MEDPLUM_EXCHANGE_CLIENT_ID = 'medplum-client-for-epic';
export const CLINICIAN_EMAIL = 'imani.okafor@riverside.example';
const CASE_SCOPES = REVIEW_APP_SCOPE.split(' ').filter((s) => s.startsWith('user/'));

export interface MedplumReviewStack {
  readonly epic: DermbridgeApp;
  readonly epicBaseUrl: string;
  readonly medplum: DermbridgeApp;
  readonly medplumBaseUrl: string;
  readonly front: MedplumFrontedApp;
  readonly frontBaseUrl: string;
  /** The demo person's id at "Epic" or at "Medplum" (`prac-derm-1`, `pat-1`). */
  idAt(server: DermbridgeApp, type: 'Practitioner' | 'Patient', value: string): Promise<string>;
  close(): Promise<void>;
}

export async function startMedplumReviewStack(options: { frameAncestors?: string[] } = {}): Promise<MedplumReviewStack> {
  const listeners = [await listenLoopback(), await listenLoopback(), await listenLoopback()];
  const [epicL, medplumL, frontL] = listeners;
  const epicBaseUrl = `http://localhost:${epicL.port}/`;
  const medplumBaseUrl = `http://127.0.0.1:${medplumL.port}/`;
  const frontBaseUrl = `http://127.0.0.1:${frontL.port}/`;
  const frontOrigin = new URL(frontBaseUrl).origin;
  const dirs: string[] = [];
  const dataDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'dermbridge-medplum-stack-'));
    dirs.push(dir);
    return dir;
  };
  const silent = { logger: pino({ level: 'silent' }) };

  const epic = createApp(
    loadConfig({}, { dataDir: dataDir(), port: epicL.port, baseUrl: epicBaseUrl, logLevel: 'silent', corsOrigins: [frontOrigin], smart: { clientId: 'dermbridge-review', ehrs: [], devEhr: true } }),
    silent,
  );
  epicL.server.on('request', epic.app);
  await seedDemoData(epic.repo);
  epic.auth.clients.registerClient({ clientId: EPIC_CLIENT_ID, name: 'dermbridge review (at Epic)', scopes: REVIEW_APP_SCOPES, redirectUris: [new URL('smart/index.html', frontBaseUrl).href], isPublic: true });

  const epicEntry: SmartEhr = { name: 'Epic (test)', issuer: epic.auth.fhirBaseUrl, clientId: EPIC_CLIENT_ID, frameAncestors: options.frameAncestors ?? [] };
  const medplum = createApp(
    loadConfig({}, {
      dataDir: dataDir(),
      port: medplumL.port,
      baseUrl: medplumBaseUrl,
      logLevel: 'silent',
      corsOrigins: [frontOrigin],
      smart: {
        clientId: 'dermbridge-review',
        devEhr: false,
        // What Medplum's ClientApplication.identityProvider holds, played by the stand-in.
        ehrs: [{ ...epicEntry, tokenExchange: { clientId: MEDPLUM_EXCHANGE_CLIENT_ID, userInfoUrl: new URL('oauth2/userinfo', epicBaseUrl).href, identitySource: 'email', scopes: CASE_SCOPES, tokenLifetimeSeconds: 3600 } }],
      },
    }),
    silent,
  );
  medplumL.server.on('request', medplum.app);
  await seedConformanceResources(medplum.repo, medplum.validator.conformance);
  await seedDemoData(medplum.repo);
  await seedDemoCases(medplum.repo, postTransactionOverHttp(medplum.auth), medplum.config.profilesDir);

  const frontConfig = loadConfig(
    { MEDPLUM_BASE_URL: medplumBaseUrl, MEDPLUM_CLIENT_ID: 'dermbridge-demo', MEDPLUM_CLIENT_SECRET: 'dermbridge-demo-secret' },
    {
      dataDir: dataDir(),
      port: frontL.port,
      baseUrl: frontBaseUrl,
      logLevel: 'silent',
      // Only the ClientApplication id: Medplum holds the identity provider.
      smart: { clientId: 'dermbridge-review', devEhr: false, ehrs: [{ ...epicEntry, tokenExchange: { clientId: MEDPLUM_EXCHANGE_CLIENT_ID, identitySource: 'email', scopes: [], tokenLifetimeSeconds: 3600 } }] },
    },
  );
  const front = createMedplumFrontedApp(frontConfig, silent);
  frontL.server.on('request', front.app);

  const stack: MedplumReviewStack = {
    epic,
    epicBaseUrl,
    medplum,
    medplumBaseUrl,
    front,
    frontBaseUrl,
    async idAt(server, type, value) {
      const [found] = await server.repo.searchResources<Practitioner | Patient>(parseSearchRequest(`${type}?identifier=${DEMO_IDENTIFIER_SYSTEM}|${value}`));
      return found.id as string;
    },
    async close() {
      for (const { server } of listeners) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
      await epic.close();
      await medplum.close();
      await front.close();
      dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true }));
    },
  };
  // The same clinician, known by the same email at Epic (its UserInfo says it) and at Medplum (her User there).
  for (const server of [epic, medplum]) {
    const id = await stack.idAt(server, 'Practitioner', 'prac-derm-1');
    const practitioner = await server.repo.readResource<Practitioner>('Practitioner', id);
    await server.repo.updateResource<Practitioner>({ ...practitioner, telecom: [...(practitioner.telecom ?? []), { system: 'email', value: CLINICIAN_EMAIL }] });
  }
  return stack;
}

async function listenLoopback(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}
