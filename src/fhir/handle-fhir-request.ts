import { badRequest, getStatus, isResourceType, notFound, OperationOutcomeError } from '@medplum/core';
import type { FhirRequest, FhirResponse, FhirRouter, HttpMethod } from '@medplum/fhir-router';
import type { Binary, Bundle, Resource } from '@medplum/fhirtypes';
import type { Request, Response } from 'express';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { FHIR_JSON, sendOutcome } from './outcomes';
import { resolveConditionalCreates } from './transaction-conditional-creates';
import type { AccessScopedRepository } from './access/access-scoped-repository';
import { PENDING_UPLOAD_HEADER, withPendingTag } from './store/pending-uploads';
import { binaryWithRawBytes } from './store/sqlite-repository';

/** Path segments that are not resource types but are routed by the FHIR router. */
const NON_TYPE_ROOTS = new Set(['', '$graphql']);

/**
 * Runs one FHIR REST request through Medplum's FhirRouter against the caller's scoped repository
 * and writes the HTTP response (status from the outcome, ETag/Last-Modified/Location per
 * https://hl7.org/fhir/R4/http.html).
 */
export async function handleFhirRequest(
  req: Request,
  res: Response,
  router: FhirRouter,
  repo: AccessScopedRepository,
  baseUrl: string,
  beforeResponse: () => Promise<void>
): Promise<void> {
  try {
    await route(req, res, router, repo, baseUrl, beforeResponse);
  } finally {
    // Also on errors: a refused access is audited before the refusal is sent.
    await beforeResponse();
  }
}

async function route(
  req: Request,
  res: Response,
  router: FhirRouter,
  repo: AccessScopedRepository,
  baseUrl: string,
  beforeResponse: () => Promise<void>
): Promise<void> {
  const path = req.path.replace(/^\/+/, '');
  const root = path.split('/')[0];
  if (!NON_TYPE_ROOTS.has(root) && !isResourceType(root)) {
    throw new OperationOutcomeError(notFound, undefined);
  }
  if (root === 'Binary' && req.method === 'GET' && wantsRawBinary(req)) {
    const id = path.split('/')[1];
    if (!id || path.split('/').length !== 2) {
      throw new OperationOutcomeError(badRequest('Raw Binary download needs GET Binary/<id>'));
    }
    const { contentType, path: filePath, size } = await repo.readBinaryContent(id);
    // Opened before the answer starts: a file expunged meanwhile fails as an error, not a cut body.
    const file = filePath ? createReadStream(filePath) : undefined;
    if (file) {
      await new Promise<void>((resolve, reject) => file.once('open', () => resolve()).once('error', reject));
    }
    await beforeResponse();
    // Photos are PHI: never cached by intermediaries, never sniffed into something executable.
    res.status(200).type(contentType).set('Cache-Control', 'no-store').set('X-Content-Type-Options', 'nosniff');
    res.set('Content-Length', String(size));
    if (!file) {
      res.end();
      return;
    }
    // Streamed from the content file: a 4 MB photo never becomes base64 or one big heap buffer.
    // Once the headers are out an error cannot become an OperationOutcome: the connection is cut
    // (the client sees fewer bytes than Content-Length) instead of being answered twice.
    await pipeline(file, res).catch(() => res.destroy());
    return;
  }
  let response: FhirResponse;
  if (req.method === 'POST' && path === '') {
    assertBundleEntriesWellFormed(req.body);
  }
  if (req.method === 'POST' && path === '' && isTransaction(req.body)) {
    const bundle = req.body;
    assertTransactionEntriesComplete(bundle);
    // The whole transaction, conditional creates included, is one store transaction; a failed
    // entry throws so it rolls back (the router itself only reports the failure).
    response = await repo.withTransaction(
      async (tx) => {
        const result = await router.handleRequest(fhirRequest(req, path, await resolveConditionalCreates(bundle, tx)), tx);
        if (getStatus(result[0]) >= 400) {
          throw new OperationOutcomeError(result[0]);
        }
        return result;
      },
      { resourceTypes: [] }
    );
  } else {
    response = await router.handleRequest(fhirRequest(req, path, bodyAsResource(req, root)), repo);
  }
  // Only now, after COMMIT: the audit trail, then the answer.
  await beforeResponse();
  const [outcome, resource] = response;
  const status = getStatus(outcome);
  if (status >= 400 || !resource) {
    sendOutcome(res, outcome, status);
    return;
  }
  setResourceHeaders(res, resource, status, baseUrl);
  res.status(status).type(FHIR_JSON).send(JSON.stringify(resource));
}

function fhirRequest(req: Request, path: string, body: unknown): FhirRequest {
  return {
    method: req.method as HttpMethod,
    url: path + queryString(req.originalUrl),
    pathname: '',
    body,
    params: {},
    query: {},
    headers: req.headers,
    config: { transactions: true },
  };
}

function setResourceHeaders(res: Response, resource: Resource, status: number, baseUrl: string): void {
  const versionId = resource.meta?.versionId;
  if (versionId && resource.resourceType !== 'Bundle') {
    res.set('ETag', `W/"${versionId}"`);
  }
  if (resource.meta?.lastUpdated) {
    res.set('Last-Modified', new Date(resource.meta.lastUpdated).toUTCString());
  }
  if (status === 201 && resource.id) {
    res.set('Location', `${baseUrl}fhir/R4/${resource.resourceType}/${resource.id}/_history/${versionId}`);
  }
}

/**
 * Non-JSON uploads to Binary (a photo posted as image/jpeg) become a Binary resource, as in
 * Medplum; the bytes travel beside it as the Buffer they arrived in (no base64 round trip).
 */
function bodyAsResource(req: Request, root: string): unknown {
  if (Buffer.isBuffer(req.body)) {
    if (root !== 'Binary' || !['POST', 'PUT'].includes(req.method)) {
      throw new OperationOutcomeError(badRequest(`Content-Type "${req.get('content-type')}" is only accepted for Binary uploads; send application/fhir+json`));
    }
    let binary: Binary = {
      resourceType: 'Binary',
      contentType: req.get('content-type')?.split(';')[0].trim() ?? 'application/octet-stream',
    };
    const id = req.path.split('/')[2];
    if (id) {
      binary.id = id;
    }
    // MedplumClient.createBinary names the resource the photo belongs to in this header.
    const securityContext = req.get('x-security-context');
    if (securityContext) {
      binary.securityContext = { reference: securityContext };
    }
    // An upload ahead of the Media that will name it (intake originals): reaped if none does.
    if (req.method === 'POST' && req.get(PENDING_UPLOAD_HEADER) === 'pending') {
      binary = withPendingTag(binary);
    }
    return binaryWithRawBytes(binary, req.body);
  }
  if (['POST', 'PUT', 'PATCH'].includes(req.method) && (req.body === undefined || req.body === null || typeof req.body !== 'object')) {
    if (req.method === 'POST' && req.path.endsWith('/_search')) {
      return {};
    }
    throw new OperationOutcomeError(badRequest('Request body must be a FHIR JSON resource (Content-Type: application/fhir+json)'));
  }
  return req.body;
}

/** FHIR R4 Binary: a read whose Accept is not a FHIR format gets the content in its native form. */
function wantsRawBinary(req: Request): boolean {
  const accept = req.get('accept') ?? '';
  return accept !== '' && !/json/.test(accept);
}

function queryString(originalUrl: string): string {
  const at = originalUrl.indexOf('?');
  return at >= 0 ? originalUrl.slice(at) : '';
}

/**
 * Medplum's batch processor turns an entry without `request` into a per-entry error even in a
 * transaction, which would commit the other entries; a transaction is all-or-nothing, so such a
 * bundle is refused whole before anything runs.
 */
/** Shapes the batch processor assumes without checking (it would fail with a JavaScript error). */
function assertBundleEntriesWellFormed(body: unknown): void {
  const bundle = body as Bundle | undefined;
  if (bundle?.resourceType !== 'Bundle' || bundle.entry === undefined) {
    return;
  }
  if (!Array.isArray(bundle.entry)) {
    throw new OperationOutcomeError(badRequest('Bundle.entry must be an array', 'Bundle.entry'));
  }
  bundle.entry.forEach((entry, i) => {
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) {
      throw new OperationOutcomeError(badRequest('Every Bundle entry must be an object', `Bundle.entry[${i}]`));
    }
  });
}

function isTransaction(body: unknown): body is Bundle {
  return (body as Bundle | undefined)?.resourceType === 'Bundle' && (body as Bundle).type === 'transaction';
}

function assertTransactionEntriesComplete(bundle: Bundle): void {
  (bundle.entry ?? []).forEach((entry, i) => {
    if (!entry?.request?.method || !entry.request.url) {
      throw new OperationOutcomeError(
        badRequest('Every transaction entry needs request.method and request.url', `Bundle.entry[${i}].request`)
      );
    }
  });
}
