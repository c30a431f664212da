/**
 * The development EHR: what Epic or Cerner do when a clinician clicks the app in a chart. It
 * stores a launch context (clinician, patient) server-side and sends the browser to the app's
 * launch URL with `iss` and an opaque `launch`.
 * https://hl7.org/fhir/smart-app-launch/app-launch.html#launch-app-ehr-launch
 *
 * SECURITY: development only (mounted when `smart.devEhr` is on). The picker *is* the login: whoever
 * can reach `/ehr` can act as any demo clinician, and through `/ehr/portal` as any patient. There is
 * no CSRF token either, for the same reason.
 */
import type { RequestHandler, Response } from 'express';
import { escapeHtml } from '../../src/auth/authorize-endpoint';
import type { DirectoryEntry } from '../../src/auth';
import { postTransactionOverHttp, seedDemoCases } from './demo-cases';
import type { SmartLaunchDeps } from './routes';

export interface EhrHandlers {
  readonly picker: RequestHandler;
  readonly launch: RequestHandler;
  readonly chart: RequestHandler;
  readonly portal: RequestHandler;
}

/** Scopes of the development portal's tokens: a patient's own compartment, or a referring clinician. */
export const DEV_PORTAL_SCOPES = { patient: ['patient/*.cruds'], clinician: ['user/*.cruds'] } as const;

export function createEhrHandlers(deps: SmartLaunchDeps): EhrHandlers {
  let seeding: Promise<number> | undefined;
  // With demo data, the first visit files the demo e-consult cases (through the FHIR API).
  const seedCases = deps.config.seedDemoData
    ? () => seedDemoCases(deps.repo, postTransactionOverHttp(deps.auth), deps.config.profilesDir)
    : undefined;
  const launchUrl = (launch: string): string => {
    const url = new URL('smart/launch.html', deps.config.baseUrl);
    url.searchParams.set('iss', deps.auth.fhirBaseUrl);
    url.searchParams.set('launch', launch);
    return url.pathname + url.search;
  };

  return {
    async picker(_req, res) {
      if (seedCases) {
        // Once per process; a failed seed is retried on the next visit.
        seeding ??= seedCases().catch((err: unknown) => {
          seeding = undefined;
          throw err;
        });
        await seeding;
      }
      const [practitioners, patients] = await Promise.all([deps.directory.practitioners(), deps.directory.patients()]);
      sendEhrPage(res, 'Development EHR', pickerBody(practitioners, patients));
    },

    async launch(req, res) {
      const form = req.body as Record<string, string | undefined>;
      const practitioners = await deps.directory.practitioners();
      const patients = await deps.directory.patients();
      const user = practitioners.find((p) => p.id === form.practitioner);
      const patient = patients.find((p) => p.id === form.patient);
      if (!user) {
        sendEhrPage(res, 'Launch refused', '<p class="error">Pick a clinician to launch as.</p><p><a href="/ehr">Back</a></p>', 400);
        return;
      }
      const embedded = form.mode === 'embedded';
      // In a chart the EHR already shows who the patient is, so the app need not (need_patient_banner).
      const launch = deps.auth.createLaunch({ fhirUser: user.id, patientId: patient?.id, needPatientBanner: !embedded });
      if (embedded) {
        res.redirect(303, `/ehr/chart?launch=${encodeURIComponent(launch)}${patient ? `&patient=${encodeURIComponent(patient.id)}` : ''}`);
        return;
      }
      res.redirect(303, launchUrl(launch));
    },

    /**
     * The patient portal or PCP system that would open the intake page in production: it signs
     * the user in (here: the picker) and hands the page a token in the URL fragment, which never
     * reaches a server log.
     */
    async portal(req, res) {
      const form = req.body as Record<string, string | undefined>;
      const back = '<p><a href="/ehr">Back</a></p>';
      if (form.as === 'pcp') {
        const user = (await deps.directory.practitioners()).find((p) => p.id === form.practitioner);
        if (!user) {
          sendEhrPage(res, 'Portal refused', `<p class="error">Pick the referring clinician.</p>${back}`, 400);
          return;
        }
        const { accessToken } = await deps.auth.issueAccessToken({ clientId: 'dev-portal', scopes: DEV_PORTAL_SCOPES.clinician, fhirUser: user.id });
        res.redirect(303, `/intake/pcp#token=${encodeURIComponent(accessToken)}`);
        return;
      }
      const patient = (await deps.directory.patients()).find((p) => p.id === form.patient);
      if (!patient) {
        sendEhrPage(res, 'Portal refused', `<p class="error">Pick the patient who submits the case.</p>${back}`, 400);
        return;
      }
      const { accessToken } = await deps.auth.issueAccessToken({
        clientId: 'dev-portal',
        scopes: DEV_PORTAL_SCOPES.patient,
        fhirUser: `Patient/${patient.id}`,
        patientId: patient.id,
      });
      res.redirect(303, `/intake/#token=${encodeURIComponent(accessToken)}`);
    },

    async chart(req, res) {
      const launch = typeof req.query.launch === 'string' ? req.query.launch : '';
      const patients = await deps.directory.patients();
      const patient = patients.find((p) => p.id === req.query.patient);
      const body = `<div class="chart-header">Chart: <strong>${escapeHtml(patient?.display ?? 'no patient (queue)')}</strong></div>
        <iframe class="chart-app" title="dermbridge review" src="${escapeHtml(launchUrl(launch))}"></iframe>`;
      sendEhrPage(res, 'Development EHR chart', body);
    },
  };
}

function pickerBody(practitioners: readonly DirectoryEntry[], patients: readonly DirectoryEntry[]): string {
  const options = (entries: readonly DirectoryEntry[]) => entries.map((e) => `<option value="${escapeHtml(e.id)}">${escapeHtml(e.display)}</option>`).join('');
  const dermatologistFirst = [...practitioners].sort((a, b) => Number(/dermatolog/i.test(b.display)) - Number(/dermatolog/i.test(a.display)));
  return `<p>This server plays the EHR for development: there is no login beyond this picker.</p>
  <form method="post" action="/ehr/launch" class="ehr-form">
    <label>Clinician <select name="practitioner" id="practitioner">${options(dermatologistFirst)}</select></label>
    <label>Patient <select name="patient" id="patient"><option value="">No patient: the whole queue</option>${options(patients)}</select></label>
    <div class="ehr-actions">
      <button type="submit" name="mode" value="top" id="launch-top">Launch as a dermatologist</button>
      <button type="submit" name="mode" value="embedded" id="launch-embedded">Open in chart (embedded)</button>
    </div>
  </form>
  <p>Standalone launch (no EHR context): <a href="/smart/launch.html">/smart/launch.html</a></p>
  <h2>Patient portal and referring clinician (intake)</h2>
  <form method="post" action="/ehr/portal" class="ehr-form">
    <label>Patient <select name="patient" id="portal-patient">${options(patients)}</select></label>
    <div class="ehr-actions"><button type="submit" name="as" value="patient" id="portal-patient-intake">Submit a case as this patient</button></div>
  </form>
  <form method="post" action="/ehr/portal" class="ehr-form">
    <label>Referring clinician <select name="practitioner" id="portal-pcp">${options(practitioners)}</select></label>
    <div class="ehr-actions"><button type="submit" name="as" value="pcp" id="portal-pcp-intake">Refer an e-consult as this clinician</button></div>
  </form>`;
}

function sendEhrPage(res: Response, title: string, body: string, status = 200): void {
  res.status(status).type('html').send(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/smart/ehr.css"></head><body class="ehr"><h1>${escapeHtml(title)}</h1>${body}</body></html>`);
}
