/**
 * Wiring only: sync and bulk operations over HTTP (the same operations as the `dermbridge` CLI).
 *   GET  /.well-known/sync-jwks.json   public keys of our backend-services client (register this URL at the EHR)
 *   POST /admin/keys/generate | /admin/keys/rotate
 *   POST /admin/sync/pull | /admin/sync/push        body { ehr: {...}, dryRun? }
 *   GET  /admin/sync/status?ehr=<name>
 *   POST /admin/bulk/import            NDJSON body, streamed into the store
 *   POST /admin/bulk/export-from-ehr   body { ehr, types?, since? }: EHR $export → store
 *   GET  /admin/bulk/export?_type=...  NDJSON of the store
 * `/admin/*` needs a bearer token with the admin scope.
 */
import express, { Router, type RequestHandler } from 'express';
import type { MedplumClient } from '@medplum/core';
import { connectStoreClient, storeConnection } from '../client/store-client';
import type { Config } from '../config/config';
import { requireAdmin } from './admin/admin-access';
import { adminHandlers, type AdminHandlerDeps } from './admin/admin-handlers';

export interface SyncRoutesDeps {
  readonly config: Config;
  readonly bearer: RequestHandler;
  readonly logError: (err: unknown) => void;
  /** Defaults to a MedplumClient logged in to the configured store. */
  readonly store?: () => Promise<MedplumClient>;
  /** The embedded store (repository + audit log), for the bulk import path. */
  readonly embedded?: AdminHandlerDeps['embedded'];
}

export function createSyncRoutes(deps: SyncRoutesDeps): Router {
  let client: Promise<MedplumClient> | undefined;
  const store =
    deps.store ??
    (() => {
      client ??= connectStoreClient(storeConnection(deps.config)).catch((err: unknown) => {
        client = undefined;
        throw err;
      });
      return client;
    });
  const h = adminHandlers({ dataDir: deps.config.dataDir, store, logError: deps.logError, embedded: deps.embedded });
  const json = express.json({ limit: '1mb' });
  const r = Router();
  r.get('/.well-known/sync-jwks.json', h.publicJwks);
  r.use('/admin', deps.bearer, requireAdmin);
  r.post('/admin/keys/generate', h.keysGenerate);
  r.post('/admin/keys/rotate', h.keysRotate);
  r.post('/admin/sync/pull', json, h.pull);
  r.post('/admin/sync/push', json, h.push);
  r.get('/admin/sync/status', h.status);
  r.post('/admin/bulk/import', h.bulkImport);
  r.post('/admin/bulk/export-from-ehr', json, h.bulkExportFromEhr);
  r.get('/admin/bulk/export', h.storeExport);
  return r;
}
