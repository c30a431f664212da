import type { MedplumClient } from '@medplum/core';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { deployBots, type DeployedBot } from '../../bots/deploy';
import { readManifest, REPO_ROOT } from '../../bots/manifest';
import { connectStoreClient, storeConnection } from '../client/store-client';
import type { Config } from '../config/config';

/**
 * Deploys the bots of `bots/medplum.config.json` to the configured store as dermbridge's own client
 * (`MEDPLUM_CLIENT_ID`): at start in production (`DERMBRIDGE_DEPLOY_BOTS_ON_START`) and by
 * `dermbridge bots deploy`. Bundles are built when esbuild is installed (a checkout), else taken
 * from `dist/bots/` (the production image builds them and omits dev dependencies). Idempotent.
 */
export async function deployBotsToStore(config: Config, options: DeployOptions = {}): Promise<DeployedBot[]> {
  const bundles = canBuildBots() ? 'build' : 'prebuilt';
  if (bundles === 'prebuilt') {
    const missing = readManifest().bots.filter((b) => !existsSync(join(REPO_ROOT, b.dist)));
    if (missing.length > 0) {
      throw new Error(`cannot deploy bots: esbuild is not installed and ${missing.map((b) => b.dist).join(', ')} not built (node --import tsx bots/build.ts)`);
    }
  }
  const medplum = await (options.connect ?? ((c: Config) => connectStoreClient(storeConnection(c))))(config);
  return deployBots(medplum, options.outDir, bundles);
}

export interface DeployOptions {
  /** Logs in to the store (the CLI wraps it to name the store it could not reach). */
  readonly connect?: (config: Config) => Promise<MedplumClient>;
  /** Where built bundles go (default each entry's `dist`); tests use a temporary directory. */
  readonly outDir?: string;
}

function canBuildBots(): boolean {
  try {
    require.resolve('esbuild');
    return true;
  } catch {
    return false;
  }
}
