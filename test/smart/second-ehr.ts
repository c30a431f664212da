/**
 * Two embedded servers on loopback: "Epic" (a dermbridge playing the EHR, reached by the host name
 * `localhost`) and dermbridge itself (`127.0.0.1`, the case store, development EHR off), configured
 * to accept Epic's launches and to exchange Epic's tokens for case-store tokens. Different host
 * names make them different sites to the browser, as Epic and dermbridge are.
 * Both ports are taken before either app is built, since each names the other in its config
 * (Epic: dermbridge's origin for CORS and the app's redirect URI; dermbridge: Epic's issuer).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSearchRequest } from '@medplum/core';
import type { Patient, Practitioner } from '@medplum/fhirtypes';
import pino from 'pino';
import { createApp, type DermbridgeApp } from '../../src/app';
import { REVIEW_APP_SCOPES } from '../../src/auth';
import type { EhrCaseStoreAccess, EhrTokenExchange, SmartEhr } from '../../src/config/config';
import { loadConfig } from '../../src/config/load-config';
import { DEMO_IDENTIFIER_SYSTEM, seedDemoData } from '../../src/demo/seed-demo-data';
import { seedConformanceResources } from '../../src/fhir/seed-conformance';
import { postTransactionOverHttp, seedDemoCases } from '../../smart-launch/server/demo-cases';
import { REVIEW_APP_SCOPE } from '../../smart-launch/server/smart-app-config';

/** The review app's client id at "Epic" (differs from its id at dermbridge, as a real registration would). */
export const EPIC_CLIENT_ID = 'dermbridge-review-at-epic';

export interface ServedApp {
  readonly dermbridge: DermbridgeApp;
  /** With trailing slash. */
  readonly baseUrl: string;
  readonly fhirBase: string;
}

export interface EpicAndDermbridge {
  readonly epic: ServedApp;
  readonly derm: ServedApp;
  readonly access: EhrCaseStoreAccess;
  /** The same demo person at either server, by demo identifier (`prac-derm-1`, `pat-1`). */
  idAt(server: ServedApp, type: 'Practitioner' | 'Patient', value: string): Promise<string>;
  close(): Promise<void>;
}

/** An EHR configured at dermbridge whose servers do not answer (nothing listens on port 1). */
export const UNREACHABLE_EHR_ISSUER = 'http://127.0.0.1:1/fhir/R4';

export interface EpicAndDermbridgeOptions {
  readonly tokenLifetimeSeconds?: number;
  /** File the demo e-consult cases at dermbridge. */
  readonly demoCases?: boolean;
  /** Also configure an EHR at UNREACHABLE_EHR_ISSUER. */
  readonly unreachableEhr?: boolean;
  /**
   * Medplum-style token-exchange clients dermbridge plays for Epic (the first on Epic's own entry,
   * the others on more entries for the same Epic); `userInfoUrl` defaults to Epic's UserInfo.
   */
  readonly tokenExchangeClients?: readonly (Omit<EhrTokenExchange, 'userInfoUrl'> & { readonly userInfoUrl?: string })[];
}

/** Epic's UserInfo endpoint (OIDC Core §5.3), which the token-exchange grant calls. */
export const userInfoUrlOf = (epicBaseUrl: string): string => new URL('oauth2/userinfo', epicBaseUrl).href;

export async function startEpicAndDermbridge(options: EpicAndDermbridgeOptions = {}): Promise<EpicAndDermbridge> {
  const epicListener = await listenLoopback();
  const dermListener = await listenLoopback();
  const epicBase = `http://localhost:${epicListener.port}/`;
  const dermBase = `http://127.0.0.1:${dermListener.port}/`;
  const dirs: string[] = [];
  const dataDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'dermbridge-2ehr-'));
    dirs.push(dir);
    return dir;
  };

  const epicApp = createApp(
    loadConfig({}, {
      dataDir: dataDir(),
      port: epicListener.port,
      baseUrl: epicBase,
      logLevel: 'silent',
      corsOrigins: [new URL(dermBase).origin],
      smart: { clientId: 'dermbridge-review', ehrs: [], devEhr: true },
    }),
    { logger: pino({ level: 'silent' }) },
  );
  epicListener.server.on('request', epicApp.app);
  await seedDemoData(epicApp.repo);
  // The app's registration at Epic: a public client redirecting to the app served by dermbridge.
  epicApp.auth.clients.registerClient({
    clientId: EPIC_CLIENT_ID,
    name: 'dermbridge review (at Epic)',
    scopes: REVIEW_APP_SCOPES,
    redirectUris: [new URL('smart/index.html', dermBase).href],
    isPublic: true,
  });
  const epic: ServedApp = { dermbridge: epicApp, baseUrl: epicBase, fhirBase: epicApp.auth.fhirBaseUrl };

  const access: EhrCaseStoreAccess = {
    openIdIssuer: epicBase,
    scopes: REVIEW_APP_SCOPE.split(' ').filter((s) => s.startsWith('user/')),
    practitionerIdentifierSystems: [DEMO_IDENTIFIER_SYSTEM],
    patientIdentifierSystems: [DEMO_IDENTIFIER_SYSTEM],
    tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 300,
  };
  const exchangeClients = (options.tokenExchangeClients ?? []).map((c): EhrTokenExchange => ({ ...c, userInfoUrl: c.userInfoUrl ?? userInfoUrlOf(epicBase) }));
  const epicEhr: SmartEhr = { name: 'Epic (test)', issuer: epic.fhirBase, clientId: EPIC_CLIENT_ID, frameAncestors: [], caseStoreAccess: access, tokenExchange: exchangeClients[0] };
  const moreEpicEntries = exchangeClients.slice(1).map((tokenExchange): SmartEhr => ({ ...epicEhr, name: `Epic (test, ${tokenExchange.clientId})`, caseStoreAccess: undefined, tokenExchange }));
  const downEhr: SmartEhr = { name: 'Down EHR', issuer: UNREACHABLE_EHR_ISSUER, clientId: 'x', frameAncestors: [], caseStoreAccess: { ...access, openIdIssuer: undefined } };
  const dermApp = createApp(
    loadConfig({}, {
      dataDir: dataDir(),
      port: dermListener.port,
      baseUrl: dermBase,
      logLevel: 'silent',
      smart: { clientId: 'dermbridge-review', ehrs: [epicEhr, ...moreEpicEntries, ...(options.unreachableEhr ? [downEhr] : [])], devEhr: false },
    }),
    { logger: pino({ level: 'silent' }) },
  );
  dermListener.server.on('request', dermApp.app);
  await seedConformanceResources(dermApp.repo, dermApp.validator.conformance);
  await seedDemoData(dermApp.repo);
  if (options.demoCases) {
    await seedDemoCases(dermApp.repo, postTransactionOverHttp(dermApp.auth), dermApp.config.profilesDir);
  }
  const derm: ServedApp = { dermbridge: dermApp, baseUrl: dermBase, fhirBase: dermApp.auth.fhirBaseUrl };

  return {
    epic,
    derm,
    access,
    async idAt(server, type, value) {
      const [found] = await server.dermbridge.repo.searchResources<Practitioner | Patient>(parseSearchRequest(`${type}?identifier=${DEMO_IDENTIFIER_SYSTEM}|${value}`));
      return found.id as string;
    },
    async close() {
      for (const { server } of [epicListener, dermListener]) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
      await epicApp.close();
      await dermApp.close();
      dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true }));
    },
  };
}

async function listenLoopback(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}
