/**
 * `DERMBRIDGE_SMART_EHRS[i].tokenExchange`: the case store's exchange client for an EHR's access
 * tokens (Medplum's ClientApplication `identityProvider`, https://www.medplum.com/docs/auth/token-exchange).
 * Example: { "clientId": "<ClientApplication id>", "userInfoUrl": "https://ehr.example/oauth2/userinfo",
 *            "identitySource": "email", "scopes": ["user/Task.rus", ...] }
 */
import type { EhrTokenExchange } from './config';
import { ConfigError } from './load-config';

const IDENTITY_SOURCES: readonly EhrTokenExchange['identitySource'][] = ['email', 'sub', 'fhirUser'];
const DEFAULT_LIFETIME_SECONDS = 3600;

export function parseTokenExchange(where: string, raw: unknown): EhrTokenExchange | undefined {
  if (raw === undefined || raw === null) {
    return undefined;
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`${where} must be an object`);
  }
  const value = raw as Record<string, unknown>;
  if (typeof value.clientId !== 'string' || value.clientId === '') {
    throw new ConfigError(`${where}.clientId must be a non-empty string (the ClientApplication id at the case store)`);
  }
  const userInfoUrl = value.userInfoUrl;
  if (userInfoUrl !== undefined && (typeof userInfoUrl !== 'string' || !/^https?:\/\//.test(userInfoUrl))) {
    throw new ConfigError(`${where}.userInfoUrl must be an http(s) URL`);
  }
  const identitySource = value.identitySource ?? 'email';
  if (!IDENTITY_SOURCES.includes(identitySource as EhrTokenExchange['identitySource'])) {
    throw new ConfigError(`${where}.identitySource must be one of ${IDENTITY_SOURCES.join(', ')}`);
  }
  const subjectIdentifierSystem = value.subjectIdentifierSystem;
  if (identitySource === 'sub' && (typeof subjectIdentifierSystem !== 'string' || subjectIdentifierSystem === '')) {
    throw new ConfigError(`${where}.subjectIdentifierSystem is required with identitySource "sub"`);
  }
  const scopes = value.scopes ?? [];
  if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === 'string' && s.length > 0)) {
    throw new ConfigError(`${where}.scopes must be an array of strings`);
  }
  if (userInfoUrl !== undefined && scopes.length === 0) {
    // The embedded server plays the ClientApplication: without scopes its tokens would grant nothing.
    throw new ConfigError(`${where}.scopes must name what exchanged tokens may do when userInfoUrl is set`);
  }
  const lifetime = value.tokenLifetimeSeconds ?? DEFAULT_LIFETIME_SECONDS;
  if (typeof lifetime !== 'number' || !Number.isInteger(lifetime) || lifetime < 10 || lifetime > 3600) {
    throw new ConfigError(`${where}.tokenLifetimeSeconds must be an integer from 10 to 3600`);
  }
  if (value.requestScope !== undefined && typeof value.requestScope !== 'string') {
    throw new ConfigError(`${where}.requestScope must be a string`);
  }
  return {
    clientId: value.clientId,
    userInfoUrl: userInfoUrl as string | undefined,
    identitySource: identitySource as EhrTokenExchange['identitySource'],
    subjectIdentifierSystem: subjectIdentifierSystem as string | undefined,
    scopes: scopes as string[],
    requestScope: value.requestScope as string | undefined,
    tokenLifetimeSeconds: lifetime,
  };
}
