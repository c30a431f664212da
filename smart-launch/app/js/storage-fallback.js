/**
 * Embedded EHR browsers may deny a cross-site iframe any storage (third-party cookies *and*
 * sessionStorage blocked: Chrome with third-party cookies off, Edge WebView2 in Epic). Then the SMART
 * state fhirclient keeps (PKCE verifier, endpoints) lives in memory, and crosses the one redirect to
 * the authorization server inside the OAuth `state` itself, sealed by our server (AES-GCM, expiring
 * in minutes): no server keeps it, so any replica opens it. No cookie is ever involved.
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

const launchStateUrl = (path) => new URL(path, document.baseURI);

/**
 * Before leaving for the authorization server: our server seals the state (encrypted, expiring in
 * minutes, stored nowhere) and the sealed value travels as the OAuth `state` itself.
 */
export async function sealState(value) {
  const res = await fetch(launchStateUrl('launch-state'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: value, credentials: 'omit' });
  const json = await res.json().catch(() => ({}));
  if (!res.ok || typeof json.state !== 'string') throw new Error(`Could not keep the launch state (${res.status})`);
  return json.state;
}

/** Back at the redirect URI: open the sealed `state`; undefined if altered, foreign or expired. */
export async function openState(state) {
  if (!state) return undefined;
  const res = await fetch(launchStateUrl('launch-state/open'), { method: 'POST', headers: { 'content-type': 'text/plain' }, body: state, credentials: 'omit' });
  return res.ok ? res.text() : undefined;
}
