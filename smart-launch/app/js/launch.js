/**
 * The launch URL (SMART App Launch 2.2). EHR launch: `iss` + `launch` from the EHR, `iss` checked
 * against the configured EHRs before anything is sent anywhere. Standalone launch: no `iss`, the
 * app starts at its default EHR and the user picks a patient (or none: the whole queue) there.
 * fhirclient then does discovery, PKCE S256, `aud` = iss and the redirect.
 */
import { showFatal } from './dom.js';
import { configureFhirClient, findEhr, loadAppConfig, newStateKey } from './smart-settings.js';
import { sealState, sessionStorageWorks, useMemoryStorage } from './storage-fallback.js';

async function launch() {
  configureFhirClient();
  const params = new URLSearchParams(location.search);
  const config = await loadAppConfig();
  const iss = params.get('iss');
  const launchId = params.get('launch');
  if (iss === null && launchId !== null) {
    showFatal('Launch refused', 'The EHR sent a launch without its address (iss).');
    return;
  }
  const ehr = findEhr(config, iss ?? config.standaloneIss);
  if (!ehr) {
    showFatal('Unknown EHR', `This app is not set up for the EHR at ${iss}. Nothing was sent to it. Ask your administrator to add it to DERMBRIDGE_SMART_EHRS.`);
    return;
  }
  document.getElementById('status').textContent = `Connecting to ${ehr.name}…`;
  const memory = sessionStorageWorks() ? undefined : useMemoryStorage();
  const stateKey = newStateKey();
  const redirect = await FHIR.oauth2.authorize({
    iss: ehr.iss,
    ...(launchId === null ? {} : { launch: launchId }),
    clientId: ehr.clientId,
    scope: ehr.scope,
    redirectUri: ehr.redirectUri,
    pkceMode: 'required',
    completeInTarget: true,
    stateKey,
    noRedirect: memory !== undefined,
  });
  if (memory !== undefined) {
    // No storage survives the redirect: the sealed state becomes the OAuth `state` (base64url, no escaping).
    const sealed = await sealState(memory[stateKey]);
    location.href = redirect.replace(`state=${stateKey}`, `state=${sealed}`);
  }
}

launch().catch((err) => showFatal('Launch failed', err?.message ?? String(err)));
