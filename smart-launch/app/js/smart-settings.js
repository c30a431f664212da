/**
 * fhirclient options for embedded EHR browsers (docs/DESIGN "SMART facts that bite"):
 * - fullSessionStorageSupport=false: the OAuth `state` stays in the URL and is the only key to the
 *   session, so two charts open at once (Cerner shares sessionStorage between them) never mix
 *   patients; nothing relies on a cookie.
 * - replaceBrowserHistory: the one-time `code` leaves the address bar and history.
 * - refreshTokenWithClientId: a public client names itself when refreshing.
 */
export function configureFhirClient() {
  const settings = window.FHIR.oauth2.settings;
  settings.fullSessionStorageSupport = false;
  settings.replaceBrowserHistory = true;
  settings.refreshTokenWithClientId = true;
}

/** SMART 2.2: `state` must carry at least 122 bits; 24 random bytes = 192 bits, base64url. */
export function newStateKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export async function loadAppConfig() {
  const res = await fetch(new URL('config.json', document.baseURI), { credentials: 'omit' });
  if (!res.ok) throw new Error(`Cannot load the app configuration (${res.status})`);
  return res.json();
}

const stripSlash = (url) => String(url ?? '').replace(/\/+$/, '');

/** The configured EHR whose FHIR base is exactly `iss` (no prefix or pattern matching). */
export function findEhr(config, iss) {
  return config.ehrs.find((e) => stripSlash(e.iss) === stripSlash(iss));
}
