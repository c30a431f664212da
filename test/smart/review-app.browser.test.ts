import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parseSearchRequest } from '@medplum/core';
import type { Communication, DiagnosticReport, Patient, Practitioner, QuestionnaireResponse, Task } from '@medplum/fhirtypes';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { DEMO_IDENTIFIER_SYSTEM } from '../../src/demo/seed-demo-data';
import type { TestServer } from '../support/test-server';
import { launchChromium, SCREENSHOT_DIR, startCrossSiteParent, startEhrServer, watchErrors, type CrossSiteParent, screenshotIfFailed } from './browser-support';

const DESKTOP = { width: 1440, height: 900 };

describe('SMART review app (headless Chromium, the server playing the EHR)', function () {
  this.timeout(120_000);
  let server: TestServer;
  let browser: Browser;
  let parent: CrossSiteParent;
  let context: BrowserContext;
  let page: Page;
  let errors: string[];

  const demo = async <T extends Patient | Practitioner>(type: T['resourceType'], value: string): Promise<T & { id: string }> => {
    const [found] = await server.dermbridge.repo.searchResources<T>(parseSearchRequest(`${type}?identifier=${DEMO_IDENTIFIER_SYSTEM}|${value}`) as never);
    return found as T & { id: string };
  };

  before(async () => {
    parent = await startCrossSiteParent();
    server = await startEhrServer([parent.origin]);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    parent?.server.close();
  });

  beforeEach(async () => {
    context = await browser.newContext({ viewport: DESKTOP });
    page = await context.newPage();
    errors = watchErrors(page);
  });

  afterEach(async function () {
    await screenshotIfFailed(this.currentTest, page, 'failed-');
    await context.close();
  });

  it('EHR launch from /ehr as the demo dermatologist lands in the queue, sorted, with the overdue case marked; Enter opens the case', async () => {
    const authorizeUrls: URL[] = [];
    const tokenBodies: URLSearchParams[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/oauth2/authorize')) authorizeUrls.push(new URL(r.url()));
      if (r.url().endsWith('/oauth2/token')) tokenBodies.push(new URLSearchParams(r.postData() ?? ''));
    });
    await page.goto(`${server.baseUrl}ehr`);
    await page.selectOption('#practitioner', { label: 'Dr Imani Okafor (Dermatologist)' });
    await page.click('#launch-top');
    await page.waitForSelector('#queue tbody tr');
    const authorizeParams = authorizeUrls[0].searchParams;
    assert.equal(authorizeParams.get('aud'), server.dermbridge.auth.fhirBaseUrl, 'aud = iss');
    assert.equal(authorizeParams.get('code_challenge_method'), 'S256');
    assert.ok(authorizeParams.get('launch'));
    assert.equal(tokenBodies.length, 1);
    assert.equal(tokenBodies[0].get('grant_type'), 'authorization_code');
    assert.match(tokenBodies[0].get('code_verifier') ?? '', /^[A-Za-z0-9\-._~]{43,128}$/);
    assert.equal(tokenBodies[0].get('client_id'), 'dermbridge-review');
    assert.equal(tokenBodies[0].get('client_secret'), null, 'a public client: no secret in the browser');
    const url = new URL(page.url());
    assert.equal(url.pathname, '/smart/index.html');
    assert.ok((url.searchParams.get('state') ?? '').length >= 32, 'state (>= 122 bits) stays in the URL as the session key');
    assert.equal(url.searchParams.get('code'), null, 'the code leaves the address bar');
    const rows = await page.$$eval('#queue tbody tr', (trs) =>
      trs.map((tr) => ({ text: tr.textContent ?? '', overdue: tr.classList.contains('overdue'), priority: tr.getAttribute('data-priority') ?? '', due: tr.getAttribute('data-due') ?? '' })),
    );
    assert.equal(rows.length, 3);
    const rank: Record<string, number> = { stat: 0, asap: 1, urgent: 2, routine: 3 };
    for (const [a, b] of rows.slice(1).map((row, i) => [rows[i], row])) {
      assert.ok(rank[a.priority] < rank[b.priority] || (a.priority === b.priority && a.due <= b.due), 'priority first, then earliest due');
    }
    const overdue = rows.filter((r) => r.overdue);
    assert.equal(overdue.length, 1);
    assert.match(overdue[0].text, /Whitfield.*overdue/);
    assert.equal(await page.isVisible('#patient-banner'), false, 'no patient in context, no banner');
    assert.equal(await page.getAttribute('html', 'data-smart-style'), 'applied', 'smart_style_url applied');
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'smart-review-queue.png') });

    const maria = rows.findIndex((r) => /Maria Garcia/.test(r.text));
    for (let i = 0; i < maria; i++) {
      await page.keyboard.press('j');
    }
    assert.match(await page.innerText('#queue tr.selected'), /Maria Garcia/);
    await page.keyboard.press('Enter');
    await page.waitForSelector('.case-header h1');
    assert.match(await page.innerText('.case-header h1'), /Maria Garcia/);
    assert.match(await page.innerText('.triage'), /P1 - urgent/);
    await page.waitForFunction("[...document.querySelectorAll('.photos img')].every((img) => img.complete && img.naturalWidth > 0)");
    assert.equal(await page.locator('.photos img').count(), 3);
    await page.waitForSelector('#q-diagnosis-primary');
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'smart-review-case.png') });
    assert.deepEqual(errors, []);
  });

  it('reviewing and completing a case: accept, fill the derm-review form, sign; the review is filed against the e-consult', async () => {
    const maria = await demo<Patient>('Patient', 'pat-1');
    await page.goto(`${server.baseUrl}ehr`);
    await page.selectOption('#patient', maria.id);
    await page.click('#launch-top');
    await page.waitForSelector('#queue tbody tr');
    assert.match(await page.innerText('#patient-banner'), /Maria Garcia/, 'need_patient_banner: top-level launch shows the banner');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#accept');
    await page.keyboard.press('a');
    await page.waitForSelector('text=owner: me');
    await page.fill('#q-diagnosis-primary', 'Malignant melanoma (372244006)');
    await page.selectOption('#q-disposition', { label: 'Refer for in-person visit' });
    await page.selectOption('#q-referral-priority', { label: 'Urgent (within 2 weeks)' });
    assert.equal(await page.isVisible('#q-question-text'), false, 'enableWhen hides the question for another disposition');
    await page.fill('#q-plan', 'Excision biopsy with 2 mm margins.');
    await page.selectOption('#q-follow-up-interval', { label: 'In 4 weeks' });
    await page.fill('#q-patient-message', 'We would like to see you in clinic within two weeks to remove the mole.');
    await page.click('#submit-review');
    await page.waitForSelector('.status.ok');
    // The disposition bot records the results and completes the Task; the app shows the report.
    await page.waitForSelector('#result', { timeout: 60_000 });
    assert.match(await page.innerText('#result'), /Case completed[\s\S]*DiagnosticReport\//);

    const [task] = await server.dermbridge.repo.searchResources<Task>(parseSearchRequest(`Task?subject=Patient/${maria.id}`) as never);
    const responses = await server.dermbridge.repo.searchResources<QuestionnaireResponse>(parseSearchRequest(`QuestionnaireResponse?subject=Patient/${maria.id}`) as never);
    const review = responses.find((qr) => qr.questionnaire?.startsWith('https://dermbridge.example.org/fhir/Questionnaire/derm-review|'));
    assert.ok(review, 'the derm-review QuestionnaireResponse was filed');
    assert.equal(review.status, 'completed');
    assert.equal(review.basedOn?.[0]?.reference, task.focus?.reference);
    const answers = Object.fromEntries((review.item ?? []).map((i) => [i.linkId, i.answer?.[0]]));
    assert.equal(answers['diagnosis-primary']?.valueCoding?.code, '372244006');
    assert.equal(answers['referral-priority']?.valueCoding?.code, 'urgent');
    assert.ok((answers['review-minutes']?.valueInteger ?? 0) >= 1, 'clinician time recorded');
    assert.equal(answers['question-text'], undefined, 'disabled items are not answered');
    assert.equal(task.status, 'completed');
    const reportRef = task.output?.map((o) => o.valueReference?.reference).find((r) => r?.startsWith('DiagnosticReport/'));
    assert.ok(reportRef, 'the DiagnosticReport is the Task output');
    const report = await server.dermbridge.repo.readReference<DiagnosticReport>({ reference: reportRef });
    assert.equal(report.status, 'final');
    assert.equal(task.owner?.reference?.startsWith('Practitioner/'), true);
    assert.deepEqual(errors, []);
  });

  it('asking the patient a question puts the case on hold with a Communication; the reply resumes it', async () => {
    const james = await demo<Patient>('Patient', 'pat-2');
    await page.goto(`${server.baseUrl}ehr`);
    await page.selectOption('#patient', james.id);
    await page.click('#launch-top');
    await page.waitForSelector('#queue tbody tr');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#question-text');
    await page.fill('#question-text', 'Is the patch itchy, and has it bled?');
    await page.click('form.ask button[type=submit]');
    await page.waitForSelector('#resume');
    const [task] = await server.dermbridge.repo.searchResources<Task>(parseSearchRequest(`Task?subject=Patient/${james.id}`) as never);
    assert.equal(task.status, 'on-hold');
    assert.equal(task.businessStatus?.coding?.[0]?.code, 'awaiting-patient-response');
    const [sent] = await server.dermbridge.repo.searchResources<Communication>(parseSearchRequest(`Communication?subject=Patient/${james.id}`) as never);
    assert.equal(sent.payload?.[0]?.contentString, 'Is the patch itchy, and has it bled?');
    assert.equal(sent.recipient?.[0]?.reference, `Patient/${james.id}`);
    await page.keyboard.press('Escape');
    await page.waitForSelector('#queue');
    await page.keyboard.press('4');
    assert.match(await page.innerText('#queue tbody'), /Whitfield/, 'the waiting-on-patient filter shows it');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#resume');
    assert.match(await page.innerText('.messages'), /Is the patch itchy, and has it bled\?/, 'the question shows on the case');
    await page.keyboard.press('r');
    await page.waitForSelector('#submit-review');
    const [resumed] = await server.dermbridge.repo.searchResources<Task>(parseSearchRequest(`Task?subject=Patient/${james.id}`) as never);
    assert.equal(resumed.status, 'in-progress');
    assert.deepEqual(errors, []);
  });

  it('works inside a cross-site iframe (EHR on localhost, app on 127.0.0.1) with third-party cookies blocked and sets no cookie', async () => {
    const derm = await demo<Practitioner>('Practitioner', 'prac-derm-1');
    const aiko = await demo<Patient>('Patient', 'pat-3');
    const launch = server.dermbridge.auth.createLaunch({ fhirUser: `Practitioner/${derm.id}`, patientId: aiko.id, needPatientBanner: false });
    const parked: string[] = [];
    page.on('request', (r) => r.url().includes('/smart/launch-state') && parked.push(new URL(r.url()).pathname.replace(/^.*\/smart\//, '')));
    parent.setFrame(`${server.baseUrl}smart/launch.html?iss=${encodeURIComponent(server.dermbridge.auth.fhirBaseUrl)}&launch=${encodeURIComponent(launch)}`);
    await page.goto(`${parent.origin}/chart`);
    const frame = page.frameLocator('#app');
    await frame.locator('#queue tbody tr').first().waitFor();
    assert.match(await frame.locator('#queue').innerText(), /Aiko Tanaka/);
    assert.equal(await frame.locator('#patient-banner').isVisible(), false, 'need_patient_banner false: the chart shows the patient');
    await frame.locator('#queue tbody tr').first().click();
    await frame.locator('.case-header h1').waitFor();
    assert.match(await frame.locator('.case-header h1').innerText(), /Aiko Tanaka/);
    assert.deepEqual(await context.cookies(), [], 'no cookies at all, on either site');
    assert.deepEqual(parked, ['launch-state', 'launch-state/open'], 'no storage in the frame: the launch state crossed the redirect sealed in the OAuth state');
    assert.equal(page.frames().length, 2);
    assert.deepEqual(errors, []);
  });

  it('two charts open at once, sharing one sessionStorage (as Cerner may), never mix patients, also after a reload', async () => {
    const derm = await demo<Practitioner>('Practitioner', 'prac-derm-1');
    const maria = await demo<Patient>('Patient', 'pat-1');
    const aiko = await demo<Patient>('Patient', 'pat-3');
    const launch = (patientId: string) => server.dermbridge.auth.createLaunch({ fhirUser: `Practitioner/${derm.id}`, patientId, needPatientBanner: true });
    // The development EHR's chart frames the app on its own origin: frames of one tab share sessionStorage.
    await page.goto(`${server.baseUrl}ehr/chart?launch=${launch(maria.id)}`);
    const second = `${server.baseUrl}smart/launch.html?iss=${encodeURIComponent(server.dermbridge.auth.fhirBaseUrl)}&launch=${launch(aiko.id)}`;
    await page.evaluate(`(() => { const f = document.createElement('iframe'); f.id = 'app2'; f.className = 'chart-app'; f.src = ${JSON.stringify(second)}; document.body.append(f); })()`);
    const [one, two] = [page.frameLocator('iframe.chart-app').first(), page.frameLocator('#app2')];
    await one.locator('#patient-banner').waitFor();
    await two.locator('#patient-banner').waitFor();
    const keys = await page.evaluate('Object.keys(sessionStorage).length');
    assert.ok((keys as number) >= 2, 'both launches keep their state in the one sessionStorage of the tab');
    await page.frames()[1].evaluate('location.reload()');
    await one.locator('#queue').waitFor();
    assert.match(await one.locator('#patient-banner').innerText(), /Maria Garcia/);
    assert.match(await two.locator('#patient-banner').innerText(), /Aiko Tanaka/);
    assert.doesNotMatch(await one.locator('#queue').innerText(), /Aiko/);
  });

  it('prescribing from the review form: the medication group appears only for "Prescribe", repeats, and is RxNorm-coded', async () => {
    const aiko = await demo<Patient>('Patient', 'pat-3');
    await page.goto(`${server.baseUrl}ehr`);
    await page.selectOption('#patient', aiko.id);
    await page.click('#launch-top');
    await page.waitForSelector('#queue tbody tr');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#submit-review');
    assert.equal(await page.isVisible('#q-medication-code'), false);
    await page.fill('#q-diagnosis-primary', 'Atopic dermatitis (24079001)');
    await page.selectOption('#q-disposition', { label: 'Prescribe' });
    await page.fill('#q-medication-code', 'Tacrolimus 0.1 % ointment [Protopic] (284520)');
    await page.fill('#q-medication-sig', 'Apply a thin layer to affected skin twice daily for 2 weeks');
    await page.click('.add-instance');
    await page.fill('#q-medication-code-2', 'Tacrolimus 0.1 % ointment [Protopic] (284520)');
    await page.fill('#q-medication-sig-2', 'Then once daily for 2 weeks');
    await page.fill('#q-medication-refills-2', '1');
    await page.fill('#q-plan', 'Topical calcineurin inhibitor; emollients.');
    await page.selectOption('#q-follow-up-interval', { label: 'In 8 weeks' });
    await page.fill('#q-patient-message', 'Use the ointment twice a day for two weeks.');
    await page.click('#submit-review');
    await page.waitForSelector('#result', { timeout: 60_000 });
    const responses = await server.dermbridge.repo.searchResources<QuestionnaireResponse>(parseSearchRequest(`QuestionnaireResponse?subject=Patient/${aiko.id}`) as never);
    const review = responses.find((qr) => qr.questionnaire?.includes('derm-review'));
    const medications = review?.item?.filter((i) => i.linkId === 'medication') ?? [];
    assert.equal(medications.length, 2, 'one medication group per prescription');
    const code = medications[0].item?.find((i) => i.linkId === 'medication-code')?.answer?.[0]?.valueCoding;
    assert.deepEqual(code, { system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '284520', display: 'Tacrolimus 0.1 % ointment [Protopic]' });
    assert.equal(medications[1].item?.find((i) => i.linkId === 'medication-refills')?.answer?.[0]?.valueInteger, 1);
    assert.deepEqual(errors, []);
  });

  it('standalone launch: the app starts at its EHR, the user signs in and opens the whole queue', async () => {
    await page.goto(`${server.baseUrl}smart/launch.html`);
    await page.waitForSelector('select[name=dev_user]');
    await page.selectOption('select[name=dev_user]', { label: 'Dr Imani Okafor (Dermatologist)' });
    await page.click('button[name=dev_allow]');
    await page.waitForSelector('#queue tbody tr');
    const open = await server.dermbridge.repo.searchResources<Task>(
      parseSearchRequest('Task?code=https://dermbridge.example.org/fhir/CodeSystem/derm-case-type|econsult-review&status=requested,accepted,in-progress,on-hold') as never,
    );
    assert.equal(await page.locator('#queue tbody tr').count(), open.length);
    await page.keyboard.press('3');
    assert.equal(await page.getAttribute('button[data-filter=unassigned]', 'aria-pressed'), 'true');
  });

  it('a launch from an unknown iss is refused with a clear message, before anything is sent to it', async () => {
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`${server.baseUrl}smart/launch.html?iss=${encodeURIComponent('https://evil.example/fhir')}&launch=abc`);
    await page.waitForSelector('.fatal');
    assert.match(await page.innerText('.fatal'), /Unknown EHR/);
    assert.ok(!requests.some((u) => u.startsWith('https://evil.example')));
  });

  it('a tampered state on the way back is refused with a clear message and no token request', async () => {
    const tokenRequests: string[] = [];
    page.on('request', (r) => r.url().includes('/oauth2/token') && tokenRequests.push(r.url()));
    await page.route('**/oauth2/authorize?**', async (route) => {
      const response = await route.fetch({ maxRedirects: 0 });
      const location = new URL(response.headers().location);
      location.searchParams.set('state', 'tampered-state-value-0123456789abcdef');
      await route.fulfill({ status: 302, headers: { location: location.href } });
    });
    await page.goto(`${server.baseUrl}ehr`);
    await page.click('#launch-top');
    await page.waitForSelector('.fatal');
    assert.match(await page.innerText('.fatal'), /Launch refused/);
    assert.deepEqual(tokenRequests, []);
  });
  it('refreshes the access token before it expires (refresh_token grant) and keeps working after a reload', async () => {
    const grants: string[] = [];
    page.on('request', (r) => r.url().endsWith('/oauth2/token') && grants.push(new URLSearchParams(r.postData() ?? '').get('grant_type') ?? ''));
    await page.goto(`${server.baseUrl}ehr`);
    await page.click('#launch-top');
    await page.waitForSelector('#queue tbody tr');
    // Pretend the token is 5 s from expiry: fhirclient refreshes within 10 s of it.
    await page.evaluate(`(() => {
      const key = new URL(location.href).searchParams.get('state');
      const state = JSON.parse(sessionStorage[key]);
      state.expiresAt = Math.floor(Date.now() / 1000) + 5;
      sessionStorage[key] = JSON.stringify(state);
    })()`);
    await page.reload();
    await page.waitForSelector('#queue tbody tr');
    assert.deepEqual(grants, ['authorization_code', 'refresh_token']);
  });
});
