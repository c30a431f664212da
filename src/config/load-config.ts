import { resolve } from 'node:path';
import type { Config, MedplumStoreTarget, SmartConfig, SmartEhr, StoreTarget } from './config';
import { parseCaseStoreAccess } from './parse-case-store-access';
import { parseTokenExchange } from './parse-token-exchange';

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
  const seedDemoData = overrides.seedDemoData ?? env.DERMBRIDGE_DEMO_DATA === 'true';
  const smart = overrides.smart ?? parseSmartConfig(env, seedDemoData);
  const frameAncestors = overrides.frameAncestors ?? parseOrigins('DERMBRIDGE_FRAME_ANCESTORS', env.DERMBRIDGE_FRAME_ANCESTORS);
  const store = overrides.store ?? parseStoreTarget(env);
  if (store.kind === 'medplum' && (seedDemoData || smart.devEhr)) {
    // Both write through the embedded store and sign in with its OAuth server, which production lacks.
    throw new ConfigError(
      `${seedDemoData ? 'demo data (DERMBRIDGE_DEMO_DATA, npm start --demo)' : 'the development EHR (DERMBRIDGE_DEV_EHR)'} needs the embedded store; ` +
        'unset MEDPLUM_BASE_URL or turn it off'
    );
  }
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
    seedDemoData,
    store,
    corsOrigins: overrides.corsOrigins ?? parseOrigins('DERMBRIDGE_CORS_ORIGINS', env.DERMBRIDGE_CORS_ORIGINS),
    // Each configured EHR may frame the app too (it embeds it in its chart).
    frameAncestors: [...new Set([...frameAncestors, ...smart.ehrs.flatMap((e) => e.frameAncestors)])],
    smart,
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

/**
 * A comma-separated list of origins (`https://ehr.example.org`); each must be a bare origin (scheme,
 * host, optional port), because browsers compare origins exactly and a path or `*` would be a mistake.
 */
function parseOrigins(name: string, value: string | undefined): string[] {
  const origins = (value ?? '').split(',').map((o) => o.trim()).filter(Boolean);
  for (const origin of origins) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || !['http:', 'https:'].includes(parsed.protocol) || parsed.origin !== origin) {
      throw new ConfigError(`${name} must be comma-separated origins like https://ehr.example.org (no path, no trailing slash), got "${origin}"`);
    }
  }
  return origins;
}

function withTrailingSlash(url: string): string {
  return url.endsWith('/') ? url : url + '/';
}

/**
 * `MEDPLUM_BASE_URL` set: Medplum is the case store, and dermbridge needs its own client there
 * (`MEDPLUM_CLIENT_ID`/`MEDPLUM_CLIENT_SECRET`). `MEDPLUM_ISSUER` (default the base URL) is the `iss`
 * Medplum puts in its tokens; `DERMBRIDGE_DEPLOY_BOTS_ON_START` deploys the bots before serving.
 */
function parseStoreTarget(env: NodeJS.ProcessEnv): StoreTarget {
  if (!env.MEDPLUM_BASE_URL) {
    for (const name of ['MEDPLUM_CLIENT_ID', 'MEDPLUM_CLIENT_SECRET', 'MEDPLUM_ISSUER', 'DERMBRIDGE_DEPLOY_BOTS_ON_START']) {
      if (env[name]) {
        // A half-configured production start would otherwise silently run the embedded store.
        throw new ConfigError(`${name} is set but MEDPLUM_BASE_URL is not: set MEDPLUM_BASE_URL to use Medplum as the case store, or unset ${name}`);
      }
    }
    return { kind: 'embedded' };
  }
  const missing = ['MEDPLUM_CLIENT_ID', 'MEDPLUM_CLIENT_SECRET'].filter((name) => !env[name]);
  if (missing.length > 0) {
    throw new ConfigError(
      `MEDPLUM_BASE_URL is set, so MEDPLUM_CLIENT_ID and MEDPLUM_CLIENT_SECRET are required too (missing: ${missing.join(', ')}); ` +
        'they are the id and secret of the ClientApplication dermbridge uses at Medplum (docs/deployment.md)'
    );
  }
  const baseUrl = withTrailingSlash(parseHttpUrl('MEDPLUM_BASE_URL', env.MEDPLUM_BASE_URL));
  const target: MedplumStoreTarget = {
    kind: 'medplum',
    baseUrl,
    clientId: env.MEDPLUM_CLIENT_ID as string,
    clientSecret: env.MEDPLUM_CLIENT_SECRET as string,
    issuer: env.MEDPLUM_ISSUER ? parseHttpUrl('MEDPLUM_ISSUER', env.MEDPLUM_ISSUER) : baseUrl,
    jwksUrl: new URL('.well-known/jwks.json', baseUrl).href,
    deployBotsOnStart: env.DERMBRIDGE_DEPLOY_BOTS_ON_START ? parseBoolean('DERMBRIDGE_DEPLOY_BOTS_ON_START', env.DERMBRIDGE_DEPLOY_BOTS_ON_START) : false,
  };
  return target;
}

function parseHttpUrl(name: string, value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || !['http:', 'https:'].includes(url.protocol)) {
    throw new ConfigError(`${name} must be an http(s) URL, got "${value}"`);
  }
  return value;
}

export const DEFAULT_SMART_CLIENT_ID = 'dermbridge-review';

/**
 * `DERMBRIDGE_SMART_EHRS`: a JSON array of `{ name, issuer, clientId, redirectUri?, scope?,
 * frameAncestors? }`. `DERMBRIDGE_DEV_EHR`: `true`/`false` (default: on with demo data).
 */
function parseSmartConfig(env: NodeJS.ProcessEnv, seedDemoData: boolean): SmartConfig {
  const devEhr = env.DERMBRIDGE_DEV_EHR === undefined || env.DERMBRIDGE_DEV_EHR === '' ? seedDemoData : parseBoolean('DERMBRIDGE_DEV_EHR', env.DERMBRIDGE_DEV_EHR);
  let raw: unknown = [];
  if (env.DERMBRIDGE_SMART_EHRS) {
    try {
      raw = JSON.parse(env.DERMBRIDGE_SMART_EHRS);
    } catch {
      throw new ConfigError('DERMBRIDGE_SMART_EHRS must be a JSON array of EHRs');
    }
  }
  if (!Array.isArray(raw)) {
    throw new ConfigError('DERMBRIDGE_SMART_EHRS must be a JSON array of EHRs');
  }
  const ehrs = raw.map((e: Record<string, unknown>, i): SmartEhr => {
    const where = `DERMBRIDGE_SMART_EHRS[${i}]`;
    for (const field of ['name', 'issuer', 'clientId']) {
      if (typeof e?.[field] !== 'string' || !e[field]) {
        throw new ConfigError(`${where}.${field} must be a non-empty string`);
      }
    }
    if (!/^https?:\/\//.test(e.issuer as string)) {
      throw new ConfigError(`${where}.issuer must be an http(s) URL`);
    }
    const frameAncestors = Array.isArray(e.frameAncestors) ? parseOrigins(`${where}.frameAncestors`, e.frameAncestors.join(',')) : [];
    return {
      name: e.name as string,
      issuer: e.issuer as string,
      clientId: e.clientId as string,
      redirectUri: typeof e.redirectUri === 'string' ? e.redirectUri : undefined,
      scope: typeof e.scope === 'string' ? e.scope : undefined,
      frameAncestors,
      caseStoreAccess: parseCaseStoreAccess(`${where}.caseStoreAccess`, e.caseStoreAccess),
      tokenExchange: parseTokenExchange(`${where}.tokenExchange`, e.tokenExchange),
    };
  });
  return { clientId: env.DERMBRIDGE_SMART_CLIENT_ID || DEFAULT_SMART_CLIENT_ID, ehrs, devEhr };
}

function parseBoolean(name: string, value: string): boolean {
  if (value !== 'true' && value !== 'false') {
    throw new ConfigError(`${name} must be true or false, got "${value}"`);
  }
  return value === 'true';
}
