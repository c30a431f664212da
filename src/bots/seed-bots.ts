import { parseSearchRequest } from '@medplum/core';
import type { Bot, Subscription } from '@medplum/fhirtypes';
import type { SqliteRepository } from '../fhir/store/sqlite-repository';
import type { BotDefinition } from './bot-catalog';
import { BOT_IDENTIFIER_SYSTEM } from './bot-catalog';

export const SUPPORTED_INTERACTION_EXT = 'https://medplum.com/fhir/StructureDefinition/subscription-supported-interaction';

/**
 * Seeds one Bot per definition (conditional on its identifier, so a restart or a second process
 * reuses it) and its rest-hook Subscriptions (PUT to a stable id: unchanged means no new version).
 * @returns Bot id by bot name.
 */
export async function seedBots(repo: SqliteRepository, definitions: readonly BotDefinition[]): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  for (const def of definitions) {
    const identifier = { system: BOT_IDENTIFIER_SYSTEM, value: def.name };
    const desired: Bot = {
      resourceType: 'Bot',
      identifier: [identifier],
      name: def.name,
      description: def.description,
      runtimeVersion: 'vmcontext',
      ...(def.everyMinutes ? { cronString: `*/${def.everyMinutes} * * * *` } : {}),
    };
    const { resource: bot } = await repo.conditionalCreate(desired, parseSearchRequest<Bot>(`Bot?identifier=${identifier.system}|${identifier.value}`));
    ids.set(def.name, bot.id as string);
    for (const [i, trigger] of def.triggers.entries()) {
      const subscription: Subscription = {
        resourceType: 'Subscription',
        id: `bot-${def.name}-${i + 1}`,
        status: 'active',
        reason: `Run the ${def.name} bot`,
        criteria: trigger.criteria,
        channel: { type: 'rest-hook', endpoint: `Bot/${bot.id}` },
        ...(trigger.interaction ? { extension: [{ url: SUPPORTED_INTERACTION_EXT, valueCode: trigger.interaction }] } : {}),
      };
      await repo.updateResource(subscription);
    }
  }
  return ids;
}
