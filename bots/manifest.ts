import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * `bots/medplum.config.json`: the bots for deployment to a Medplum server, in the shape of
 * Medplum's own `medplum.config.json` (name, source, dist) plus each bot's Subscription criteria
 * and, for scheduled bots, the Bot cronString.
 */
export interface BotManifestEntry {
  readonly name: string;
  readonly source: string;
  readonly dist: string;
  readonly criteria: readonly string[];
  readonly cronString?: string;
}

export interface BotManifest {
  readonly bots: readonly BotManifestEntry[];
}

export const MANIFEST_PATH = join(__dirname, 'medplum.config.json');
export const REPO_ROOT = join(__dirname, '..');

export function readManifest(path = MANIFEST_PATH): BotManifest {
  return JSON.parse(readFileSync(path, 'utf8')) as BotManifest;
}
