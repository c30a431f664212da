import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Patient } from '@medplum/fhirtypes';
import { decodeJwt } from 'jose';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import { launchChromium, SCREENSHOT_DIR, startCrossSiteParent, watchErrors, type CrossSiteParent, screenshotIfFailed } from '../smart/browser-support';
import { MEDPLUM_EXCHANGE_CLIENT_ID, startMedplumReviewStack, type MedplumReviewStack } from './medplum-review-stack';

/** The little of the DOM the photo check touches (this project compiles without the DOM lib). */
interface PageWindow {
  readonly document: { querySelectorAll(selector: string): ArrayLike<{ readonly complete: boolean; readonly naturalWidth: number }> };
}

describe('SMART review app in production (createMedplumFrontedApp; "Epic" on localhost, a stand-in Medplum as the case store, headless Chromium)', function () {
  this.timeout(120_000);
  let stack: MedplumReviewStack;
  let parent: CrossSiteParent;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let errors: string[];
  let requests: Request[];
  let epicDerm: string;
  let epicMaria: string;

  before(async () => {
    parent = await startCrossSiteParent();
    stack = await startMedplumReviewStack({ frameAncestors: [parent.origin] });
    epicDerm = await stack.idAt(stack.epic, 'Practitioner', 'prac-derm-1');
    epicMaria = await stack.idAt(stack.epic, 'Patient', 'pat-1');
    // Epic's chart spells her name its own way: the banner shows where the patient context came from.
    const maria = await stack.epic.repo.readResource<Patient>('Patient', epicMaria);
    await stack.epic.repo.updateResource<Patient>({ ...maria, name: [{ given: ['Maria', 'Elena'], family: 'Garcia' }] });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await stack?.close();
    parent?.server.close();
  });

  beforeEach(async () => {
    context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    page = await context.newPage();
    errors = watchErrors(page);
    requests = [];
    page.on('request', (r) => requests.push(r));
  });

  afterEach(async function () {
    await screenshotIfFailed(this.currentTest, page, 'failed-medplum-');
    await context.close();
  });

  const medplumFhir = () => new URL('fhir/R4', stack.medplumBaseUrl).href;
  const exchanges = () => requests.filter((r) => r.url() === new URL('oauth2/token', stack.medplumBaseUrl).href && r.method() === 'POST');
  const bearerOf = (r: Request) => decodeJwt((r.headers().authorization ?? '').replace(/^Bearer /, ''));

  /** What Epic does: a launch context, then the app's launch URL (served by the production dermbridge) with `iss` and `launch`. */
  function launchUrl(patientId?: string): string {
    const launch = stack.epic.auth.createLaunch({ fhirUser: `Practitioner/${epicDerm}`, patientId, needPatientBanner: true });
    const url = new URL('smart/launch.html', stack.frontBaseUrl);
    url.search = new URLSearchParams({ iss: stack.epic.auth.fhirBaseUrl, launch }).toString();
    return url.href;
  }

  it('serves the app with Medplum as its case store, and its CSP lets the browser reach Epic and Medplum', async () => {
    const config = await (await fetch(new URL('smart/config.json', stack.frontBaseUrl))).json() as { caseStore: string; ehrs: { tokenExchange?: { tokenEndpoint: string; clientId: string } }[] };
    assert.equal(config.caseStore, medplumFhir());
    assert.deepEqual({ ...config.ehrs[0].tokenExchange, scope: undefined }, { tokenEndpoint: new URL('oauth2/token', stack.medplumBaseUrl).href, clientId: MEDPLUM_EXCHANGE_CLIENT_ID, scope: undefined });
    const index = await fetch(new URL('smart/index.html', stack.frontBaseUrl));
    const csp = index.headers.get('content-security-policy') ?? '';
    assert.match(csp, new RegExp(`connect-src 'self' ${new URL(stack.epicBaseUrl).origin} ${new URL(stack.medplumBaseUrl).origin}`));
    assert.match(csp, new RegExp(`frame-ancestors 'self' ${parent.origin}`));
  });

  it("launched from Epic with a patient: exchanges Epic's access token at Medplum, shows her queue and case from Medplum under Epic's banner", async () => {
    await page.goto(launchUrl(epicMaria));
    await page.waitForSelector('#queue tbody tr');
    assert.match(await page.innerText('#patient-banner'), /Maria Elena Garcia/, "the banner is Epic's patient");
    const rows = await page.$$eval('#queue tbody tr', (trs) => trs.map((tr) => tr.textContent ?? ''));
    assert.equal(rows.length, 1, "her cases only (matched by identifier at Medplum)");
    assert.match(rows[0], /Maria Garcia/, "the queue row is Medplum's record of her");

    assert.equal(exchanges().length, 1, 'one exchange at Medplum');
    const form = new URLSearchParams(exchanges()[0].postData() ?? '');
    assert.equal(form.get('grant_type'), 'urn:ietf:params:oauth:grant-type:token-exchange');
    assert.equal(form.get('subject_token_type'), 'urn:ietf:params:oauth:token-type:access_token');
    assert.equal(form.get('client_id'), MEDPLUM_EXCHANGE_CLIENT_ID);
    assert.equal(decodeJwt(form.get('subject_token') ?? '').iss, stack.epicBaseUrl, "the subject token is Epic's access token");
    assert.equal(form.get('client_secret'), null, 'no secret in the browser');
    assert.equal(requests.filter((r) => r.url().includes('/smart/case-store-token')).length, 0, "dermbridge's own exchange is not used");

    const taskSearch = requests.find((r) => r.url().startsWith(`${medplumFhir()}/Task?`));
    assert.ok(taskSearch, 'the queue came from Medplum');
    assert.equal(bearerOf(taskSearch).iss, stack.medplumBaseUrl, "with Medplum's token");
    assert.equal(bearerOf(taskSearch).sub, `Practitioner/${await stack.idAt(stack.medplum, 'Practitioner', 'prac-derm-1')}`, 'as her user at Medplum');
    assert.ok(requests.some((r) => r.url() === `${stack.epic.auth.fhirBaseUrl}/Patient/${epicMaria}` && bearerOf(r).iss === stack.epicBaseUrl), "the chart read from Epic with Epic's token");
    assert.ok(!requests.some((r) => r.url().startsWith(stack.frontBaseUrl) && r.url().includes('/fhir/')), 'nothing FHIR goes to the production dermbridge');

    await page.keyboard.press('Enter');
    await page.waitForSelector('.case-header h1');
    assert.match(await page.innerText('.case-header h1'), /Maria Garcia/);
    await page.waitForFunction(() => Array.from((globalThis as unknown as PageWindow).document.querySelectorAll('.photos img')).every((img) => img.complete && img.naturalWidth > 0));
    assert.equal(await page.locator('.photos img').count(), 3);
    assert.ok(requests.some((r) => r.url().startsWith(`${medplumFhir()}/Binary/`)), 'photos came from Medplum');
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'smart-review-case-production.png') });
    assert.deepEqual(errors, []);
  });

  it('works in a cross-site iframe with no storage: the launch state crosses the redirect sealed, with nothing stored by dermbridge', async () => {
    const launchState: string[] = [];
    page.on('request', (r) => r.url().includes('/smart/launch-state') && launchState.push(new URL(r.url()).pathname));
    parent.setFrame(launchUrl());
    await page.goto(`${parent.origin}/chart`);
    const frame = page.frameLocator('#app');
    await frame.locator('#queue tbody tr').first().waitFor();
    assert.equal(await frame.locator('#queue tbody tr').count(), 3, 'the whole queue at Medplum');
    assert.deepEqual(launchState, ['/smart/launch-state', '/smart/launch-state/open']);
    const authorize = requests.find((r) => r.url().startsWith(new URL('oauth2/authorize', stack.epicBaseUrl).href));
    assert.ok(authorize);
    const state = new URL(authorize.url()).searchParams.get('state') ?? '';
    assert.ok(state.length > 100, 'the OAuth state carries the sealed launch state');
    assert.doesNotMatch(Buffer.from(state, 'base64url').toString('latin1'), /codeVerifier|tokenUri/, 'sealed: nothing readable on its way through Epic');
    assert.deepEqual(await context.cookies(), []);
    assert.deepEqual(errors, []);
  });
});
