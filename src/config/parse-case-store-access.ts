/**
 * `DERMBRIDGE_SMART_EHRS[i].caseStoreAccess`: how users an EHR launched get a dermbridge token
 * (src/auth/case-store-token-exchange.ts). Example:
 *   { "openIdIssuer": "https://fhir.example.org/oauth2", "scopes": ["user/Task.rus", ...],
 *     "practitionerIdentifierSystems": ["http://hl7.org/fhir/sid/us-npi"],
 *     "patientIdentifierSystems": ["urn:oid:1.2.840.114350.1.13.0.1.7.5.737384.14"], "tokenLifetimeSeconds": 300 }
 */
import type { EhrCaseStoreAccess } from './config';
import { ConfigError } from './load-config';

export const DEFAULT_EXCHANGED_TOKEN_LIFETIME_SECONDS = 300;

export function parseCaseStoreAccess(where: string, raw: unknown): EhrCaseStoreAccess | undefined {
  if (raw === undefined || raw === null) {
    return undefined;
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`${where} must be an object`);
  }
  const value = raw as Record<string, unknown>;
  const strings = (field: string): string[] => {
    const list = value[field];
    if (!Array.isArray(list) || list.length === 0 || !list.every((s) => typeof s === 'string' && s.length > 0)) {
      throw new ConfigError(`${where}.${field} must be a non-empty array of strings`);
    }
    return list as string[];
  };
  const openIdIssuer = value.openIdIssuer;
  if (openIdIssuer !== undefined && (typeof openIdIssuer !== 'string' || !/^https?:\/\//.test(openIdIssuer))) {
    throw new ConfigError(`${where}.openIdIssuer must be an http(s) URL`);
  }
  const lifetime = value.tokenLifetimeSeconds ?? DEFAULT_EXCHANGED_TOKEN_LIFETIME_SECONDS;
  if (typeof lifetime !== 'number' || !Number.isInteger(lifetime) || lifetime < 10 || lifetime > 3600) {
    throw new ConfigError(`${where}.tokenLifetimeSeconds must be an integer from 10 to 3600`);
  }
  return {
    openIdIssuer,
    scopes: strings('scopes'),
    practitionerIdentifierSystems: strings('practitionerIdentifierSystems'),
    patientIdentifierSystems: strings('patientIdentifierSystems'),
    tokenLifetimeSeconds: lifetime,
  };
}
