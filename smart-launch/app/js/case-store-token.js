/**
 * The case store's token when the app was launched by another EHR (Epic, Cerner), by one of two
 * exchanges (docs/adr/0007-case-store-token-exchange.md):
 * - the EHR's access token at the case store's own token endpoint, as Medplum's token exchange
 *   takes it (RFC 8693: `subject_token`, `subject_token_type=...:access_token`, `client_id` of the
 *   case store's client for that EHR; the same request MedplumClient.exchangeExternalAccessToken
 *   makes). The case store asks the EHR's UserInfo endpoint who the user is. Used when the EHR's
 *   config has `tokenExchange`: with Medplum as the store, and at the embedded server alike;
 * - the EHR's id_token and access token at dermbridge (`POST /smart/case-store-token`, embedded
 *   store only), which verifies the id_token against the EHR's keys.
 * The app holds no secret. The token is exchanged again shortly before it ends, with the EHR's
 * current tokens (fhirclient refreshes those first).
 */
import { findEhr } from './smart-settings.js';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

/** Exchange again when less than this share of the token's lifetime is left (at most a minute). */
const RENEW_SHARE = 0.2;
/** dermbridge refuses an id_token about to expire; refresh at the EHR first (OIDC Core §12.2 may return a new one). */
const ID_TOKEN_MARGIN_SECONDS = 60;

export class CaseStoreTokenError extends Error {
  constructor(error, description) {
    super(description ? `${description} (${error})` : error);
    this.name = 'CaseStoreTokenError';
    this.error = error;
  }
}

/** `exp` of a JWT, read without verifying (only to decide when to refresh; dermbridge verifies). */
export function jwtExpiry(jwt) {
  try {
    const payload = String(jwt).split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return Number(JSON.parse(atob(payload)).exp) || 0;
  } catch {
    return 0;
  }
}

export async function exchangeEhrTokens(ehrClient, config) {
  await ehrClient.refreshIfNeeded();
  const current = ehrClient.state.tokenResponse ?? {};
  if (current.refresh_token && current.id_token && jwtExpiry(current.id_token) - ID_TOKEN_MARGIN_SECONDS < Date.now() / 1000) {
    await ehrClient.refresh();
  }
  const token = ehrClient.state.tokenResponse ?? {};
  if (!token.id_token) throw new CaseStoreTokenError('invalid_request', 'The EHR gave no id_token: the app needs the openid and fhirUser scopes there');
  const body = new URLSearchParams({
    grant_type: TOKEN_EXCHANGE,
    subject_token: token.id_token,
    subject_token_type: ID_TOKEN,
    ehr_access_token: token.access_token,
    ehr: ehrClient.state.serverUrl,
    resource: config.caseStore,
  });
  const patient = ehrClient.getPatientId();
  if (patient) body.set('patient', patient);
  const res = await fetch(config.caseStoreTokenEndpoint, { method: 'POST', body, credentials: 'omit', cache: 'no-store' });
  const json = await res.json().catch(() => ({}));
  if (!res.ok || !json.access_token) throw new CaseStoreTokenError(json.error ?? `HTTP ${res.status}`, json.error_description);
  return json;
}

/** The EHR's access token for a case-store token at the case store's token endpoint (Medplum's grant). */
export async function exchangeEhrAccessToken(ehrClient, exchange) {
  await ehrClient.refreshIfNeeded();
  const accessToken = ehrClient.state.tokenResponse?.access_token;
  if (!accessToken) throw new CaseStoreTokenError('invalid_request', 'The EHR gave no access token');
  const body = new URLSearchParams({
    grant_type: TOKEN_EXCHANGE,
    subject_token_type: ACCESS_TOKEN,
    client_id: exchange.clientId,
    subject_token: accessToken,
    scope: exchange.scope,
  });
  const res = await fetch(exchange.tokenEndpoint, { method: 'POST', body, credentials: 'omit', cache: 'no-store' });
  const json = await res.json().catch(() => ({}));
  if (!res.ok || !json.access_token) throw new CaseStoreTokenError(json.error ?? `HTTP ${res.status}`, json.error_description);
  return json;
}

/** Who the user is at the case store: dermbridge's exchange says `fhirUser`, Medplum's `profile`. */
export function caseStoreUser(tokenResponse) {
  return tokenResponse?.fhirUser ?? tokenResponse?.profile?.reference;
}

/**
 * A fhirclient Client for the case store whose token is renewed by exchange: fhirclient calls
 * `refreshIfNeeded()` before every request, so the renewal happens exactly when a request needs it.
 */
export async function caseStoreClient(ehrClient, config) {
  let renewing;
  const adopt = (client, response) => {
    const lifetime = Number(response.expires_in) || 300;
    client.state.tokenResponse = response;
    client.state.expiresAt = Math.floor(Date.now() / 1000) + lifetime;
    client.state.renewAt = client.state.expiresAt - Math.min(60, Math.ceil(lifetime * RENEW_SHARE));
  };
  const exchange = findEhr(config, ehrClient.state.serverUrl)?.tokenExchange;
  const exchangeNow = exchange ? () => exchangeEhrAccessToken(ehrClient, exchange) : () => exchangeEhrTokens(ehrClient, config);
  const first = await exchangeNow();
  const client = FHIR.client({ serverUrl: config.caseStore, tokenResponse: first });
  adopt(client, first);
  client.refreshIfNeeded = async () => {
    if (Date.now() / 1000 < client.state.renewAt) return client.state;
    renewing ??= exchangeNow().then((next) => adopt(client, next)).finally(() => { renewing = undefined; });
    await renewing;
    return client.state;
  };
  return client;
}
