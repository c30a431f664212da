/**
 * What every command needs, read once from flags and the environment (this entry point, like
 * `src/main.ts`, is where configuration is read): the data directory holding the sync keys, the
 * case store (the running dermbridge server or the configured Medplum), and the EHR settings.
 */
import type { MedplumClient } from '@medplum/core';
import { SingleBar } from 'cli-progress';
import { connectStoreClient, storeConnection } from '../client/store-client';
import type { Config } from '../config/config';
import { loadConfig } from '../config/load-config';
import { ehrSettingsFromEnv, parseEhrSettings, type EhrSettings } from '../sync/ehr-settings';
import { formatSummary, hasFailed, type SyncSummary } from '../sync/sync-summary';

export interface EhrFlags {
  ehrUrl?: string;
  ehrName?: string;
  ehrClientId?: string;
  mrnSystem?: string;
  scope?: string;
  alg?: string;
  tokenUrl?: string;
  query?: string;
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_NOT_IMPLEMENTED = 3;

export function cliConfig(flags: { dataDir?: string }): Config {
  return loadConfig(process.env, { ...(flags.dataDir ? { dataDir: flags.dataDir } : {}), logLevel: 'silent' });
}

export async function connectStore(config: Config): Promise<MedplumClient> {
  const connection = storeConnection(config);
  try {
    return await connectStoreClient(connection);
  } catch (err) {
    throw new Error(
      `cannot log in to the case store at ${connection.baseUrl} as ${connection.clientId}: ${(err as Error).message} ` +
        '(is the dermbridge server running? for a real Medplum set MEDPLUM_BASE_URL, MEDPLUM_CLIENT_ID, MEDPLUM_CLIENT_SECRET)'
    );
  }
}

/** Flags win over `DERMBRIDGE_EHR_*`. */
export function ehrSettings(flags: EhrFlags): EhrSettings {
  const env = ehrSettingsFromEnv(process.env);
  const pick = (flag: string | undefined, key: string): unknown => flag ?? env[key];
  return parseEhrSettings({
    name: pick(flags.ehrName, 'name'),
    fhirBaseUrl: pick(flags.ehrUrl, 'fhirBaseUrl'),
    clientId: pick(flags.ehrClientId, 'clientId'),
    mrnSystem: pick(flags.mrnSystem, 'mrnSystem'),
    scope: pick(flags.scope, 'scope'),
    alg: pick(flags.alg, 'alg'),
    tokenEndpoint: pick(flags.tokenUrl, 'tokenEndpoint'),
    serviceRequestQuery: pick(flags.query, 'serviceRequestQuery'),
  });
}

/** A progress bar on an interactive terminal; nothing when output is piped or logged. */
export function progressBar(label: string, total: number): { update(value: number, total?: number): void; stop(): void } {
  if (!process.stderr.isTTY) {
    return { update: () => undefined, stop: () => undefined };
  }
  const bar = new SingleBar({ format: `${label} [{bar}] {value}/{total} {duration_formatted}`, stream: process.stderr, hideCursor: true });
  bar.start(total, 0);
  return {
    update: (value, newTotal) => {
      if (newTotal !== undefined && newTotal !== bar.getTotal()) {
        bar.setTotal(newTotal);
      }
      bar.update(value);
    },
    stop: () => bar.stop(),
  };
}

/** Prints the summary (stdout, or JSON with --json) and returns the exit code. */
export function report(summary: SyncSummary, options: { json?: boolean; extra?: object } = {}): number {
  if (options.json) {
    process.stdout.write(JSON.stringify({ ...options.extra, summary }, null, 2) + '\n');
  } else {
    process.stdout.write(formatSummary(summary) + '\n');
  }
  return hasFailed(summary) ? EXIT_FAILED : EXIT_OK;
}
