import { allOk, badRequest, OperationOutcomeError } from '@medplum/core';
import type { FhirRequest, FhirResponse, FhirRouteHandler } from '@medplum/fhir-router';
import type { Binary, Bot } from '@medplum/fhirtypes';

const MAX_CODE_BYTES = 5 * 1024 * 1024;

/**
 * `POST [base]/Bot/[id]/$deploy {code, filename}`, Medplum's bot deployment
 * (https://www.medplum.com/docs/api/fhir/operations/bot-deploy): the code is stored as a Binary
 * and linked from `Bot.executableCode`, so the deploy command works against the embedded server
 * as against Medplum. The embedded server never runs uploaded code: it runs the handler built
 * into this server for the Bot's identifier (src/bots/bot-catalog.ts). Writes go through the
 * caller's scoped repository, so deploying needs write access to Binary and Bot.
 */
export const deployBotOperation: FhirRouteHandler = async (req: FhirRequest, repo): Promise<FhirResponse> => {
  const body = req.body as { code?: unknown; filename?: unknown } | undefined;
  if (typeof body?.code !== 'string' || body.code.length === 0) {
    throw new OperationOutcomeError(badRequest('$deploy needs a non-empty "code" string'));
  }
  if (Buffer.byteLength(body.code) > MAX_CODE_BYTES) {
    throw new OperationOutcomeError(badRequest(`Bot code is larger than ${MAX_CODE_BYTES} bytes`));
  }
  const filename = typeof body.filename === 'string' && body.filename ? body.filename : 'index.js';
  const bot = await repo.readResource<Bot>('Bot', req.params.id);
  const binary = await repo.createResource<Binary>({
    resourceType: 'Binary',
    contentType: 'application/javascript',
    data: Buffer.from(body.code).toString('base64'),
    securityContext: { reference: `Bot/${bot.id}` },
  });
  await repo.updateResource<Bot>({ ...bot, executableCode: { contentType: 'application/javascript', url: `Binary/${binary.id}`, title: filename } });
  return [allOk];
};
