import { resolve } from 'node:path';
import type { Config, StoreTarget } from './config';

export const DEFAULT_PORT = 8103;
export const DEFAULT_DEMO_CLIENT_ID = 'dermbridge-demo';
export const DEFAULT_DEMO_CLIENT_SECRET = 'dermbridge-demo-secret';

const LOG_LEVELS: readonly Config['logLevel'][] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export class ConfigError extends Error {}

/**
 * Reads the environment once. Unknown values fail fast at start rather than as odd behaviour later.
 * @param env - the environment, normally `process.env`.
 * @param overrides - values that win over the environment (CLI flags, tests).
 */
export function loadConfig(env: NodeJS.ProcessEnv, overrides: Partial<Config> = {}): Config {
  const port = overrides.port ?? parsePort(env.PORT);
  const host = overrides.host ?? env.HOST ?? '127.0.0.1';
  const baseUrl = withTrailingSlash(overrides.baseUrl ?? env.DERMBRIDGE_BASE_URL ?? `http://localhost:${port}/`);
  const logLevel = overrides.logLevel ?? parseLogLevel(env.LOG_LEVEL);
  return {
    port,
    host,
    baseUrl,
    dataDir: resolve(overrides.dataDir ?? env.DERMBRIDGE_DATA_DIR ?? 'data'),
    profilesDir: resolve(overrides.profilesDir ?? env.DERMBRIDGE_PROFILES_DIR ?? 'fhir-profiles'),
    maxBodyBytes: overrides.maxBodyBytes ?? parsePositiveInt('DERMBRIDGE_MAX_BODY_BYTES', env.DERMBRIDGE_MAX_BODY_BYTES, 32 * 1024 * 1024),
    accessTokenLifetimeSeconds:
      overrides.accessTokenLifetimeSeconds ?? parsePositiveInt('DERMBRIDGE_TOKEN_LIFETIME_SECONDS', env.DERMBRIDGE_TOKEN_LIFETIME_SECONDS, 3600),
    demoClient: overrides.demoClient ?? {
      clientId: env.DERMBRIDGE_DEMO_CLIENT_ID ?? DEFAULT_DEMO_CLIENT_ID,
      clientSecret: env.DERMBRIDGE_DEMO_CLIENT_SECRET ?? DEFAULT_DEMO_CLIENT_SECRET,
    },
    seedDemoData: overrides.seedDemoData ?? env.DERMBRIDGE_DEMO_DATA === 'true',
    store: overrides.store ?? parseStoreTarget(env),
    logLevel,
  };
}

function parsePort(value: string | undefined): number {
  if (value === undefined || value === '') {
    return DEFAULT_PORT;
  }
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`PORT must be an integer 0-65535, got "${value}"`);
  }
  return port;
}

function parsePositiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') {
    return fallback;
  }
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) {
    throw new ConfigError(`${name} must be a positive integer, got "${value}"`);
  }
  return n;
}

function parseLogLevel(value: string | undefined): Config['logLevel'] {
  if (value === undefined || value === '') {
    return 'info';
  }
  if (!(LOG_LEVELS as string[]).includes(value)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${value}"`);
  }
  return value as Config['logLevel'];
}

function withTrailingSlash(url: string): string {
  return url.endsWith('/') ? url : url + '/';
}

function parseStoreTarget(env: NodeJS.ProcessEnv): StoreTarget {
  if (!env.MEDPLUM_BASE_URL) {
    return { kind: 'embedded' };
  }
  if (!env.MEDPLUM_CLIENT_ID || !env.MEDPLUM_CLIENT_SECRET) {
    throw new ConfigError('MEDPLUM_BASE_URL is set, so MEDPLUM_CLIENT_ID and MEDPLUM_CLIENT_SECRET are required too');
  }
  return {
    kind: 'medplum',
    baseUrl: withTrailingSlash(env.MEDPLUM_BASE_URL),
    clientId: env.MEDPLUM_CLIENT_ID,
    clientSecret: env.MEDPLUM_CLIENT_SECRET,
  };
}
