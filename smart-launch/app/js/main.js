/**
 * The redirect URI: completes the SMART launch (fhirclient: state check, code → token with the PKCE
 * verifier), then runs the review app. Every piece of session state is keyed by the OAuth `state`
 * in the URL; nothing uses cookies.
 */
import { renderCase } from './case-view.js';
import { h, humanName, showFatal } from './dom.js';
import { renderQueue } from './queue-view.js';
import { stopTimer } from './review-timer.js';
import { configureFhirClient, findEhr, loadAppConfig } from './smart-settings.js';
import { applySmartStyle } from './smart-style.js';
import { casePatientIds, createSources } from './sources.js';
import { openState, sessionStorageWorks, useMemoryStorage } from './storage-fallback.js';

async function start() {
  configureFhirClient();
  const config = await loadAppConfig();
  if (!sessionStorageWorks()) {
    // No storage in this frame: the launch sealed its state into the OAuth `state`; open it.
    const state = new URLSearchParams(location.search).get('state');
    const opened = await openState(state);
    // Anyone can have a state sealed: only one for a configured EHR is used.
    const known = opened !== undefined && findEhr(config, JSON.parse(opened).serverUrl) !== undefined;
    useMemoryStorage(known ? { [state]: opened } : {});
  }
  const client = await FHIR.oauth2.ready();
  const token = client.state.tokenResponse;
  await applySmartStyle(token.smart_style_url);
  const sources = await createSources(client, config);
  const user = await client.user.read().catch(() => undefined);
  const app = {
    sources,
    userDisplay: user ? humanName(user) : sources.fhirUser,
    contextPatient: undefined,
    casePatientIds: undefined,
    keyHandler: undefined,
    tick: undefined,
    setKeys(handler) { this.keyHandler = handler; },
    onTick(fn) { this.tick = fn; },
  };
  document.getElementById('user').textContent = app.userDisplay ?? '';
  if (sources.patientId) {
    app.contextPatient = await client.request(`Patient/${sources.patientId}`);
    app.casePatientIds = await casePatientIds(sources, app.contextPatient);
    // SMART need_patient_banner: only when the EHR is not already showing who the patient is.
    if (token.need_patient_banner !== false) showBanner(app.contextPatient);
  }
  document.addEventListener('keydown', (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest?.('input, textarea, select') && event.key !== 'Escape') return;
    app.keyHandler?.(event);
  });
  setInterval(() => app.tick?.(), 15000);
  const route = () => {
    stopTimer();
    app.keyHandler = undefined;
    app.tick = undefined;
    const match = /^#\/case\/([A-Za-z0-9\-.]+)$/.exec(location.hash);
    if (location.hash === '#/queue/all') {
      app.contextPatient = undefined;
      app.casePatientIds = undefined;
    }
    const view = match ? renderCase(app, match[1]) : renderQueue(app);
    view.catch((err) => showFatal('Something went wrong', err?.message ?? String(err)));
  };
  window.addEventListener('hashchange', route);
  route();
}

function showBanner(patient) {
  const banner = document.getElementById('patient-banner');
  const mrn = patient.identifier?.[0]?.value;
  banner.replaceChildren(h('strong', {}, humanName(patient)), ` · ${patient.gender ?? ''} · born ${patient.birthDate ?? '?'}`, mrn ? ` · ${mrn}` : '');
  banner.hidden = false;
}

start().catch((err) => {
  const message = err?.message ?? String(err);
  // fhirclient's words for a state it does not know: a tampered, stale or foreign `state`.
  if (err?.name === 'CaseStoreTokenError') showFatal('No access to dermbridge cases', `dermbridge did not accept the sign-in from your EHR: ${message}`);
  else if (/No state found|state/i.test(message)) showFatal('Launch refused', `This sign-in could not be matched to a launch from this browser (${message}).`);
  else showFatal('Sign-in failed', message);
});
