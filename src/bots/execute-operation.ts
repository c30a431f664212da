import { allOk } from '@medplum/core';
import type { FhirRequest, FhirResponse, FhirRouteHandler, FhirRouter } from '@medplum/fhir-router';
import type { Bot, Parameters, Resource } from '@medplum/fhirtypes';
import type { BotDispatcher } from './bot-dispatcher';
import { deployBotOperation } from './deploy-operation';

/**
 * `POST [base]/Bot/[id]/$execute`: runs the bot on the request body now, as Medplum does
 * (https://www.medplum.com/docs/bots/bot-basics#executing-a-bot). The caller must be allowed to
 * read the Bot (checked through the caller's scoped repository); the bot itself then acts with the
 * bots' system client, as on Medplum.
 */
export function executeBotOperation(dispatcher: BotDispatcher): FhirRouteHandler {
  return async (req: FhirRequest, repo): Promise<FhirResponse> => {
    const bot = (await repo.readResource<Bot>('Bot', req.params.id)) as Bot & { id: string };
    const output = await dispatcher.execute(bot, req.body);
    if (output && typeof output === 'object') {
      return [allOk, output as Resource];
    }
    const parameters: Parameters = { resourceType: 'Parameters', parameter: output === undefined ? [] : [{ name: 'result', valueString: String(output) }] };
    return [allOk, parameters];
  };
}

/** Adds Medplum's bot operations, `$execute` and `$deploy`, to the FHIR router. */
export function installExecuteOperation(router: FhirRouter, dispatcher: BotDispatcher): FhirRouter {
  router.add('POST', 'Bot/:id/$execute', executeBotOperation(dispatcher));
  router.add('POST', 'Bot/:id/$deploy', deployBotOperation);
  return router;
}
