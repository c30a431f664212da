import { MedplumClient } from '@medplum/core';
import type { Config } from '../config/config';

/** Where a MedplumClient connects and with which client credentials. */
export interface StoreConnection {
  readonly baseUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
}

/**
 * The one seam between dermbridge's code (intake, bots, the SMART app's server side, sync) and
 * the case store: the same connection details shape whether the store is this process's embedded
 * server or a real Medplum server, so nothing above it knows which one it talks to.
 */
export function storeConnection(config: Config): StoreConnection {
  if (config.store.kind === 'medplum') {
    const { baseUrl, clientId, clientSecret } = config.store;
    return { baseUrl, clientId, clientSecret };
  }
  return { baseUrl: config.baseUrl, clientId: config.demoClient.clientId, clientSecret: config.demoClient.clientSecret };
}

/**
 * A logged-in MedplumClient. Client-credentials login, as Medplum's own bots and integrations
 * use; MedplumClient renews the token itself before it expires (it keeps the credentials).
 */
export async function connectStoreClient(connection: StoreConnection, fetchImpl: typeof fetch = globalThis.fetch): Promise<MedplumClient> {
  const medplum = new MedplumClient({
    baseUrl: connection.baseUrl,
    clientId: connection.clientId,
    fetch: fetchImpl,
    // Server-side use: no browser storage, no cache that could serve one patient's data to another request.
    cacheTime: 0,
  });
  await medplum.startClientLogin(connection.clientId, connection.clientSecret);
  return medplum;
}
