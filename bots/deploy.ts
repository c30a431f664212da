import type { MedplumClient } from '@medplum/core';
import type { Bot, Subscription } from '@medplum/fhirtypes';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { connectStoreClient } from '../src/client/store-client';
import type { BotManifestEntry } from './manifest';
import { REPO_ROOT, readManifest } from './manifest';

/**
 * Deploys the bots of `bots/medplum.config.json` to a Medplum server (or the embedded server, which
 * speaks the same API): for each bot, find or create the Bot (by identifier), build its CommonJS
 * bundle, `POST Bot/<id>/$deploy {code, filename}`, then make its rest-hook Subscriptions match the
 * manifest (create the missing ones, switch off the ones no longer listed).
 *
 *   MEDPLUM_BASE_URL=https://medplum.example.org/ MEDPLUM_CLIENT_ID=… MEDPLUM_CLIENT_SECRET=… \
 *     node --import tsx bots/deploy.ts
 */
export const BOT_IDENTIFIER_SYSTEM = 'https://dermbridge.example.org/fhir/sid/bot';

export interface DeployedBot {
  readonly name: string;
  readonly botId: string;
  readonly subscriptions: string[];
}

/**
 * @param bundles - `build`: bundle each bot now (esbuild, a dev dependency); `prebuilt`: use the
 *   bundles at each entry's `dist` (the production image builds them and leaves esbuild out).
 */
export async function deployBots(medplum: MedplumClient, outDir?: string, bundles: 'build' | 'prebuilt' = 'build'): Promise<DeployedBot[]> {
  const deployed: DeployedBot[] = [];
  for (const entry of readManifest().bots) {
    const bot = await findOrCreateBot(medplum, entry);
    // Loaded only to build: esbuild is a dev dependency, absent from the production image.
    const file = bundles === 'build' ? await (require('./build') as typeof import('./build')).buildBot(entry, outDir) : join(REPO_ROOT, entry.dist);
    await medplum.post(medplum.fhirUrl('Bot', bot.id, '$deploy'), { code: readFileSync(file, 'utf8'), filename: basename(file) });
    deployed.push({ name: entry.name, botId: bot.id, subscriptions: await syncSubscriptions(medplum, bot.id, entry) });
  }
  return deployed;
}

async function findOrCreateBot(medplum: MedplumClient, entry: BotManifestEntry): Promise<Bot & { id: string }> {
  const identifier = { system: BOT_IDENTIFIER_SYSTEM, value: entry.name };
  const desired: Bot = {
    resourceType: 'Bot',
    identifier: [identifier],
    name: entry.name,
    runtimeVersion: 'vmcontext',
    ...(entry.cronString ? { cronString: entry.cronString } : {}),
  };
  const existing = await medplum.searchOne('Bot', { identifier: `${identifier.system}|${identifier.value}` });
  if (existing) {
    const next = { ...existing, ...desired, id: existing.id } as Bot & { id: string };
    return JSON.stringify(next) === JSON.stringify(existing) ? (existing as Bot & { id: string }) : medplum.updateResource(next);
  }
  const project = medplum.getProject()?.id;
  if (project) {
    // Medplum creates a Bot with its ProjectMembership (the identity it runs as) through the admin
    // API (https://www.medplum.com/docs/api/project-admin/bot); a bare POST Bot would have none.
    const created = (await medplum.post(`admin/projects/${project}/bot`, { name: entry.name, description: `dermbridge ${entry.name} bot` }).catch(() => undefined)) as
      | (Bot & { id: string })
      | undefined;
    if (created?.id) {
      return medplum.updateResource({ ...created, ...desired, id: created.id });
    }
  }
  return medplum.createResourceIfNoneExist(desired, `identifier=${identifier.system}|${identifier.value}`) as Promise<Bot & { id: string }>;
}

async function syncSubscriptions(medplum: MedplumClient, botId: string, entry: BotManifestEntry): Promise<string[]> {
  const endpoint = `Bot/${botId}`;
  const current = (await medplum.searchResources('Subscription', { url: endpoint, _count: '100' })) as (Subscription & { id: string })[];
  const ids: string[] = [];
  for (const criteria of entry.criteria) {
    const found = current.find((s) => s.criteria === criteria && s.channel?.endpoint === endpoint);
    if (found && found.status === 'active') {
      ids.push(found.id);
      continue;
    }
    const subscription: Subscription = {
      resourceType: 'Subscription',
      status: 'active',
      reason: `Run the ${entry.name} bot`,
      criteria,
      // No supported-interaction extension: Medplum then fires on create and update alike.
      channel: { type: 'rest-hook', endpoint },
    };
    const saved = found ? await medplum.updateResource({ ...found, status: 'active' }) : await medplum.createResource(subscription);
    ids.push(saved.id as string);
  }
  for (const stale of current.filter((s) => s.status === 'active' && !entry.criteria.includes(s.criteria))) {
    await medplum.updateResource({ ...stale, status: 'off' });
  }
  return ids;
}

if (require.main === module) {
  const { MEDPLUM_BASE_URL, MEDPLUM_CLIENT_ID, MEDPLUM_CLIENT_SECRET } = process.env;
  if (!MEDPLUM_BASE_URL || !MEDPLUM_CLIENT_ID || !MEDPLUM_CLIENT_SECRET) {
    console.error('Set MEDPLUM_BASE_URL, MEDPLUM_CLIENT_ID and MEDPLUM_CLIENT_SECRET');
    process.exit(2);
  }
  connectStoreClient({ baseUrl: MEDPLUM_BASE_URL, clientId: MEDPLUM_CLIENT_ID, clientSecret: MEDPLUM_CLIENT_SECRET })
    .then((medplum) => deployBots(medplum))
    .then((deployed) => console.log(JSON.stringify(deployed, null, 2)))
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
