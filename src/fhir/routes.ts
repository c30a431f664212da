import type { FhirRouter } from '@medplum/fhir-router';
import type { CapabilityStatement } from '@medplum/fhirtypes';
import express from 'express';
import type { RequestHandler, Router } from 'express';
import type { AuditLog } from '../audit/audit-log';
import type { AccessContext } from '../auth/access-context';
import type { Authorize } from './access/access-scoped-repository';
import { AccessScopedRepository, PendingAudits } from './access/access-scoped-repository';
import { auditEventSearch } from './audit-event-search';
import { handleFhirRequest } from './handle-fhir-request';
import { limitJsonDepth } from './json-depth';
import { FHIR_JSON, fhirErrorHandler } from './outcomes';
import type { SqliteRepository } from './store/sqlite-repository';

export interface FhirRoutesDeps {
  readonly baseUrl: string;
  readonly maxBodyBytes: number;
  readonly router: FhirRouter;
  readonly repo: SqliteRepository;
  readonly bearer: RequestHandler;
  readonly authorize: Authorize;
  readonly audit: AuditLog;
  readonly capabilityStatement: CapabilityStatement;
  readonly logError: (err: unknown) => void;
}

const JSON_TYPES = ['application/json', 'application/fhir+json', 'application/json-patch+json'];

/** `/fhir/R4`: wiring only. */
export function createFhirRoutes(deps: FhirRoutesDeps): Router {
  const r = express.Router();
  const metadata = JSON.stringify(deps.capabilityStatement);
  r.get('/metadata', (_req, res) => {
    res.type(FHIR_JSON).send(metadata);
  });
  r.use(deps.bearer);
  r.use(express.json({ type: JSON_TYPES, limit: deps.maxBodyBytes }));
  r.use(express.urlencoded({ extended: false, limit: deps.maxBodyBytes }));
  r.use(express.raw({ type: (req) => !JSON_TYPES.some((t) => req.headers['content-type']?.startsWith(t)), limit: deps.maxBodyBytes }));
  r.use(limitJsonDepth());
  r.get('/AuditEvent', auditEventSearch(deps.audit, deps.authorize));
  r.all('/{*path}', async (req, res) => {
    const audit = new PendingAudits(deps.audit);
    const repo = new AccessScopedRepository(deps.repo, {
      access: res.locals.access as AccessContext,
      authorize: deps.authorize,
      audit,
      sourceAddress: req.ip,
      logError: deps.logError,
    });
    await handleFhirRequest(req, res, deps.router, repo, deps.baseUrl, () => audit.flush());
  });
  r.use(fhirErrorHandler(deps.logError));
  return r;
}
