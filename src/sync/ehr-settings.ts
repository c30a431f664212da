/**
 * How to reach one EHR: read once by the entry point (CLI flags and `DERMBRIDGE_EHR_*` variables,
 * or an admin API request body), validated here, and passed down; nothing below reads the environment.
 */
import type { BackendServicesClient as TokenClient } from './backend-services/token-client';
import { BackendServicesClient } from './backend-services/token-client';
import { readSyncKeys, SYNC_KEY_ALGS, syncKeysPath, type SyncKeyAlg } from './backend-services/sync-keys';
import { EhrClient, type RetryPolicy } from './ehr-client';

export interface EhrSettings {
  /** Short stable name: part of checkpoint and identifier keys, so never change it for a live EHR. */
  readonly name: string;
  readonly fhirBaseUrl: string;
  readonly clientId: string;
  readonly mrnSystem: string;
  readonly scope: string;
  readonly alg: SyncKeyAlg;
  readonly serviceRequestQuery?: string;
  readonly tokenEndpoint?: string;
}

export const DEFAULT_EHR_SCOPE =
  'system/Patient.rs system/ServiceRequest.crs system/Condition.rs system/MedicationStatement.rs system/MedicationRequest.rs ' +
  'system/AllergyIntolerance.rs system/DiagnosticReport.crs system/Communication.crs';

export class EhrSettingsError extends TypeError {
  readonly code = 'ERR_SYNC_SETTINGS';
}

/** Validates raw settings (env-derived or JSON); throws EhrSettingsError naming the bad field. */
export function parseEhrSettings(raw: Record<string, unknown>): EhrSettings {
  const str = (field: string, required = true): string | undefined => {
    const v = raw[field];
    if (v === undefined || v === '') {
      if (required) {
        throw new EhrSettingsError(`EHR setting "${field}" is required`);
      }
      return undefined;
    }
    if (typeof v !== 'string') {
      throw new EhrSettingsError(`EHR setting "${field}" must be a string`);
    }
    return v;
  };
  const fhirBaseUrl = str('fhirBaseUrl') as string;
  if (!/^https?:\/\//.test(fhirBaseUrl)) {
    throw new EhrSettingsError('EHR setting "fhirBaseUrl" must be an http(s) URL');
  }
  const alg = (str('alg', false) ?? 'ES384') as SyncKeyAlg;
  if (!SYNC_KEY_ALGS.includes(alg)) {
    throw new EhrSettingsError(`EHR setting "alg" must be one of ${SYNC_KEY_ALGS.join(', ')}`);
  }
  const name = str('name', false) ?? new URL(fhirBaseUrl).host;
  if (!/^[A-Za-z0-9._:-]{1,64}$/.test(name)) {
    throw new EhrSettingsError('EHR setting "name" must be 1-64 letters, digits, dot, dash, colon or underscore');
  }
  return {
    name,
    fhirBaseUrl: fhirBaseUrl.replace(/\/+$/, ''),
    clientId: str('clientId') as string,
    mrnSystem: str('mrnSystem') as string,
    scope: str('scope', false) ?? DEFAULT_EHR_SCOPE,
    alg,
    serviceRequestQuery: str('serviceRequestQuery', false),
    tokenEndpoint: str('tokenEndpoint', false),
  };
}

/** `DERMBRIDGE_EHR_*` → raw settings (for the CLI entry point). */
export function ehrSettingsFromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  return {
    name: env.DERMBRIDGE_EHR_NAME,
    fhirBaseUrl: env.DERMBRIDGE_EHR_FHIR_URL,
    clientId: env.DERMBRIDGE_EHR_CLIENT_ID,
    mrnSystem: env.DERMBRIDGE_EHR_MRN_SYSTEM,
    scope: env.DERMBRIDGE_EHR_SCOPE,
    alg: env.DERMBRIDGE_EHR_ALG,
    serviceRequestQuery: env.DERMBRIDGE_EHR_SERVICEREQUEST_QUERY,
    tokenEndpoint: env.DERMBRIDGE_EHR_TOKEN_URL,
  };
}

export interface EhrConnection {
  readonly ehr: EhrClient;
  readonly tokens: TokenClient;
}

/** Token client (keys from `<dataDir>/sync-keys.json`) and fhir-kit-client for the EHR. */
export async function connectEhr(
  settings: EhrSettings,
  dataDir: string,
  options: { retry?: RetryPolicy; onRetry?: (info: { url: string; status?: number; attempt: number; delayMs: number }) => void } = {}
): Promise<EhrConnection> {
  const keysPath = syncKeysPath(dataDir);
  readSyncKeys(keysPath); // fail now, with the "run keys generate" message, not at the first request
  const tokens = new BackendServicesClient({
    fhirBaseUrl: settings.fhirBaseUrl,
    clientId: settings.clientId,
    scope: settings.scope,
    alg: settings.alg,
    tokenEndpoint: settings.tokenEndpoint,
    keys: () => readSyncKeys(keysPath),
  });
  const ehr = await EhrClient.create({ fhirBaseUrl: settings.fhirBaseUrl, tokens, retry: options.retry, onRetry: options.onRetry });
  return { ehr, tokens };
}
