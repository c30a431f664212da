/**
 * Embedded EHR browsers may deny a cross-site iframe any storage (third-party cookies *and*
 * sessionStorage blocked: Chrome with third-party cookies off, Edge WebView2 in Epic). Then the SMART
 * state fhirclient keeps (PKCE verifier, endpoints) lives in memory, and crosses the one redirect to
 * the authorization server through our own server, keyed by the OAuth `state` (192 random bits),
 * taken once and expiring in minutes. No cookie is ever involved.
 */
export function sessionStorageWorks() {
  try {
    const s = window.sessionStorage;
    s.setItem('dermbridge-probe', '1');
    s.removeItem('dermbridge-probe');
    return true;
  } catch {
    return false;
  }
}

/** Replaces `window.sessionStorage` with an in-memory bag (fhirclient uses it as a plain object). */
export function useMemoryStorage(initial = {}) {
  const bag = { ...initial };
  Object.defineProperty(window, 'sessionStorage', { value: bag, configurable: true });
  return bag;
}

const stateUrl = (state) => new URL(`launch-state/${encodeURIComponent(state)}`, document.baseURI);

/** Before leaving for the authorization server: hand the state to our server. */
export async function parkState(state, value) {
  const res = await fetch(stateUrl(state), { method: 'PUT', headers: { 'content-type': 'application/json' }, body: value, credentials: 'omit' });
  if (!res.ok) throw new Error(`Could not keep the launch state (${res.status})`);
}

/** Back at the redirect URI: take the state back (once); undefined if unknown, used or expired. */
export async function takeState(state) {
  if (!state) return undefined;
  const res = await fetch(stateUrl(state), { method: 'DELETE', credentials: 'omit' });
  return res.ok ? res.text() : undefined;
}
