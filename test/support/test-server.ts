import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { AppOptions, DermbridgeApp } from '../../src/app';
import { createApp } from '../../src/app';
import type { AccessTokenGrant } from '../../src/auth';
import type { Config } from '../../src/config/config';
import { loadConfig } from '../../src/config/load-config';

export interface TestServer {
  readonly dermbridge: DermbridgeApp;
  /** Base URL with trailing slash, e.g. http://127.0.0.1:41234/ */
  readonly baseUrl: string;
  readonly dataDir: string;
  /** A bearer token for any principal (patient A, a clinician, a narrow system client...). */
  token(grant: Partial<AccessTokenGrant> & { scopes: string[] }): Promise<string>;
  /** A token with every system scope, as the demo client gets. */
  adminToken(): Promise<string>;
  close(): Promise<void>;
}

/**
 * Starts a real server (the full app, a fresh data directory, an ephemeral loopback port) so a
 * test talks HTTP to exactly what `npm start` runs.
 */
export async function startTestServer(overrides: Partial<Config> = {}, options: AppOptions = {}): Promise<TestServer> {
  const dataDir = overrides.dataDir ?? mkdtempSync(join(tmpdir(), 'dermbridge-test-'));
  // Port 0 first, to learn the real port; baseUrl must carry it (tokens' aud, fullUrls).
  const probe = loadConfig({}, { ...overrides, dataDir, port: 0, logLevel: 'silent' });
  const server: Server = await new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
  const port = (server.address() as { port: number }).port;
  const config = loadConfig({}, { ...probe, ...overrides, dataDir, port, baseUrl: `http://127.0.0.1:${port}/` });
  const dermbridge = createApp(config, { logger: pino({ level: 'silent' }), ...options });
  server.on('request', dermbridge.app);
  const baseUrl = config.baseUrl;
  const token = async (grant: Partial<AccessTokenGrant> & { scopes: string[] }): Promise<string> => {
    const issued = await dermbridge.auth.issueAccessToken({ clientId: 'test-client', ...grant } as AccessTokenGrant);
    return issued.accessToken;
  };
  return {
    dermbridge,
    baseUrl,
    dataDir,
    token,
    adminToken: () => token({ scopes: ['system/*.cruds'] }),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await dermbridge.close();
      if (!overrides.dataDir) {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}
