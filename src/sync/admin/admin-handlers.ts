/**
 * Admin API handlers: the CLI's operations over HTTP. Each answers the run's summary as JSON
 * (created / updated / unchanged / failed with reasons); errors are problem details.
 * EHR connection settings come in the request body (`ehr`), validated like the CLI's.
 */
import type { MedplumClient } from '@medplum/core';
import type { Request, RequestHandler, Response } from 'express';
import { problem } from '../../http/problem';
import { generateSyncKeys, publicJwks, readSyncKeys, rotateSyncKeys, SyncKeysMissingError, syncKeysPath } from '../backend-services/sync-keys';
import { importBulkManifest, runBulkExport } from '../bulk/bulk-export-client';
import { exportNdjson } from '../bulk/ndjson-export';
import { importNdjsonInto, type StoreImportTarget } from '../bulk/store-import';
import type { AccessContext } from '../../auth/access-context';
import { connectEhr, EhrSettingsError, parseEhrSettings, type EhrSettings } from '../ehr-settings';
import { pullSync } from '../pull/pull-sync';
import { pushResults } from '../push/push-results';
import { readSyncStatus } from '../sync-status';
import { hasFailed } from '../sync-summary';

export interface AdminHandlerDeps {
  readonly dataDir: string;
  /** The case store, through the MedplumClient seam (connected on first use). */
  readonly store: () => Promise<MedplumClient>;
  readonly logError: (err: unknown) => void;
  /**
   * The embedded store, when this server is the case store: imports then take its bulk write
   * path (one transaction per batch) instead of Bundles sent back to ourselves over HTTP.
   */
  readonly embedded?: Omit<StoreImportTarget, 'agent'>;
}

type Handler = (req: Request, res: Response) => Promise<void>;

export function adminHandlers(deps: AdminHandlerDeps) {
  const keysPath = syncKeysPath(deps.dataDir);
  const guarded =
    (handler: Handler): RequestHandler =>
    async (req, res) => {
      try {
        await handler(req, res);
      } catch (err) {
        if (err instanceof EhrSettingsError) {
          problem(res, 400, err.code, err.message);
        } else if (err instanceof SyncKeysMissingError) {
          problem(res, 409, err.code, err.message);
        } else {
          deps.logError(err);
          problem(res, 502, (err as { code?: string }).code ?? 'sync-failed', (err as Error).message);
        }
      }
    };
  const ehrOf = (req: Request): EhrSettings => parseEhrSettings(((req.body as { ehr?: Record<string, unknown> })?.ehr ?? {}) as Record<string, unknown>);
  const flag = (req: Request, name: string): boolean => (req.body as Record<string, unknown>)?.[name] === true || req.query[name] === 'true';
  // The embedded store's bulk path, audited as the admin client that asked; else the configured store.
  const importTarget = async (req: Request, res: Response): Promise<MedplumClient | StoreImportTarget> => {
    if (!deps.embedded) {
      return deps.store();
    }
    const access = res.locals.access as AccessContext;
    return { ...deps.embedded, agent: { agent: access.subject, clientId: access.clientId, tokenId: access.tokenId, sourceAddress: req.ip } };
  };
  const sendSummary = (res: Response, body: object, failed: boolean): void => {
    res.status(failed ? 207 : 200).json(body);
  };

  return {
    publicJwks: guarded(async (_req, res) => {
      res.setHeader('Access-Control-Allow-Origin', '*');
      res.setHeader('Cache-Control', 'public, max-age=300');
      res.json(publicJwks(readSyncKeys(keysPath)));
    }),
    keysGenerate: guarded(async (_req, res) => {
      const { created, keys } = await generateSyncKeys(keysPath);
      res.status(created ? 201 : 200).json({ created, jwks: publicJwks(keys) });
    }),
    keysRotate: guarded(async (_req, res) => {
      res.json({ jwks: publicJwks(await rotateSyncKeys(keysPath)) });
    }),
    pull: guarded(async (req, res) => {
      const settings = ehrOf(req);
      const { ehr } = await connectEhr(settings, deps.dataDir);
      const pageSize = Number((req.body as { pageSize?: unknown }).pageSize ?? 50);
      const result = await pullSync({
        ehr,
        store: await deps.store(),
        ehrName: settings.name,
        mrnSystem: settings.mrnSystem,
        serviceRequestQuery: settings.serviceRequestQuery,
        pageSize,
        dryRun: flag(req, 'dryRun'),
      });
      sendSummary(res, result, hasFailed(result.summary));
    }),
    push: guarded(async (req, res) => {
      const settings = ehrOf(req);
      const { ehr } = await connectEhr(settings, deps.dataDir);
      const summary = await pushResults({ ehr, store: await deps.store(), ehrName: settings.name, dryRun: flag(req, 'dryRun'), retryNow: flag(req, 'retryNow') });
      sendSummary(res, { summary }, hasFailed(summary));
    }),
    status: guarded(async (req, res) => {
      const ehrName = String(req.query.ehr ?? '');
      if (!ehrName) {
        problem(res, 400, 'ERR_SYNC_SETTINGS', 'query parameter "ehr" (the EHR name) is required');
        return;
      }
      res.json(await readSyncStatus(await deps.store(), ehrName));
    }),
    bulkImport: guarded(async (req, res) => {
      const options = { dryRun: req.query.dryRun === 'true', source: typeof req.query.source === 'string' && req.query.source ? req.query.source : 'request body' };
      const summary = await importNdjsonInto(await importTarget(req, res), req, options);
      sendSummary(res, { summary }, hasFailed(summary));
    }),
    bulkExportFromEhr: guarded(async (req, res) => {
      const settings = ehrOf(req);
      const { ehr, tokens } = await connectEhr(settings, deps.dataDir);
      const body = req.body as { types?: string[]; since?: string };
      const manifest = await runBulkExport({ ehr, tokens, types: body.types, since: body.since });
      const summary = await importBulkManifest(await importTarget(req, res), manifest, { tokens }, { dryRun: flag(req, 'dryRun') });
      sendSummary(res, { transactionTime: manifest.transactionTime, summary }, hasFailed(summary));
    }),
    storeExport: guarded(async (req, res) => {
      const types = typeof req.query._type === 'string' ? req.query._type.split(',').filter(Boolean) : undefined;
      const store = await deps.store();
      res.type('application/fhir+ndjson');
      await exportNdjson(store, res, { types });
      res.end();
    }),
  };
}
