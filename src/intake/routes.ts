import express from 'express';
import type { NextFunction, Request, Response, Router } from 'express';
import { join } from 'node:path';
import { addPhotos } from './add-photos';
import { callerOf } from './case-store';
import { loadCaseStatus } from './case-status';
import type { IntakeDeps } from './intake-deps';
import { intakeErrorHandler } from './intake-error';
import { formDefinition } from './intake-forms';
import { sendIntakePage } from './intake-page';
import { checkPhoto } from './photo-check';
import { submitCase } from './submit-case';
import { readBundleSubmission } from './submit-fhir-bundle';
import { readMultipartSubmission } from './submit-multipart';

export type { IntakeDeps } from './intake-deps';

type Handler = (req: Request, res: Response) => Promise<void>;
const wrap = (handler: Handler) => (req: Request, res: Response, next: NextFunction) => {
  handler(req, res).catch(next);
};
const FHIR_JSON = ['application/fhir+json', 'application/json'];

/** `/intake`: wiring only. Errors are problem details (intake-error.ts). */
export function createIntakeRoutes(deps: IntakeDeps): Router {
  const r = express.Router();
  const caller = (req: Request, res: Response) => callerOf(res, deps.storeBaseUrl, req.headers.authorization, deps.fetch);
  // A FHIR case Bundle carries its photos as base64 (4/3 of their size): bounded like a multipart body.
  const jsonLimit = 140 * 1024 * 1024;

  // Public: the page and the form definitions (no PHI).
  r.get(['/', '/patient'], (req, res) => sendIntakePage(res, 'patient', req.baseUrl));
  r.get('/pcp', (req, res) => sendIntakePage(res, 'pcp', req.baseUrl));
  r.use('/assets', express.static(join(__dirname, 'public'), { index: false, maxAge: '5m' }));
  r.get('/forms/:name', (req, res, next) => {
    try {
      res.json(formDefinition(deps, String(req.params.name)));
    } catch (err) {
      next(err);
    }
  });

  r.use(deps.bearer);
  r.post(
    '/photo-check',
    express.raw({ type: () => true, limit: deps.photoLimits.maxBytes }),
    wrap(async (req, res) => {
      res.json(await checkPhoto(deps, req));
    })
  );
  r.post(
    '/cases',
    express.json({ type: FHIR_JSON, limit: jsonLimit }),
    wrap(async (req, res) => {
      const submission = req.is(FHIR_JSON) ? readBundleSubmission(req) : await readMultipartSubmission(req, deps);
      const who = caller(req, res);
      const { caseId, created, status } = await submitCase(deps, who, submission);
      res.status(created ? 201 : 200).location(`${req.baseUrl}/cases/${caseId}`).json(status ?? (await loadCaseStatus(who, caseId)));
    })
  );
  r.get(
    '/cases/:id',
    wrap(async (req, res) => {
      res.json(await loadCaseStatus(caller(req, res), String(req.params.id)));
    })
  );
  r.post(
    '/cases/:id/photos',
    wrap(async (req, res) => {
      const who = caller(req, res);
      const added = await addPhotos(deps, who, String(req.params.id), req);
      res.status(added > 0 ? 201 : 200).json({ added, ...(await loadCaseStatus(who, String(req.params.id))) });
    })
  );
  r.use(intakeErrorHandler(deps.logError));
  return r;
}
