import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Patient, Practitioner } from '@medplum/fhirtypes';
import { decodeJwt } from 'jose';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import { launchChromium, SCREENSHOT_DIR, watchErrors, screenshotIfFailed } from './browser-support';
import { startEpicAndDermbridge, type EpicAndDermbridge } from './second-ehr';

/** The little of the DOM the photo check touches (this project compiles without the DOM lib). */
interface PageWindow {
  readonly document: { querySelectorAll(selector: string): ArrayLike<{ readonly complete: boolean; readonly naturalWidth: number }> };
}

const DESKTOP = { width: 1440, height: 900 };
/** Short, so the test sees the app exchange again before the case-store token ends. */
const TOKEN_LIFETIME_SECONDS = 20;

describe('SMART review app launched by another EHR ("Epic" on localhost, dermbridge on 127.0.0.1, headless Chromium)', function () {
  this.timeout(120_000);
  let servers: EpicAndDermbridge;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let errors: string[];
  let requests: Request[];
  let epicDerm: string;
  let epicMaria: string;

  before(async () => {
    servers = await startEpicAndDermbridge({ demoCases: true, tokenLifetimeSeconds: TOKEN_LIFETIME_SECONDS });
    epicDerm = await servers.idAt(servers.epic, 'Practitioner', 'prac-derm-1');
    epicMaria = await servers.idAt(servers.epic, 'Patient', 'pat-1');
    // Epic's chart spells her name its own way: the banner shows where the patient context came from.
    const epicRepo = servers.epic.dermbridge.repo;
    const maria = await epicRepo.readResource<Patient>('Patient', epicMaria);
    await epicRepo.updateResource<Patient>({ ...maria, name: [{ given: ['Maria', 'Elena'], family: 'Garcia' }], birthDate: '1968-04-12' });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await servers?.close();
  });

  beforeEach(async () => {
    context = await browser.newContext({ viewport: DESKTOP });
    page = await context.newPage();
    errors = watchErrors(page);
    requests = [];
    page.on('request', (r) => requests.push(r));
  });

  afterEach(async function () {
    await screenshotIfFailed(this.currentTest, page, 'failed-epic-');
    await context.close();
  });

  /** What Epic does: store a launch context and open the app's launch URL with `iss` and `launch`. */
  async function launchFromEpic(fhirUser: string, patientId?: string): Promise<void> {
    const launch = servers.epic.dermbridge.auth.createLaunch({ fhirUser, patientId, needPatientBanner: true });
    const url = new URL('smart/launch.html', servers.derm.baseUrl);
    url.search = new URLSearchParams({ iss: servers.epic.fhirBase, launch }).toString();
    await page.goto(url.href);
  }

  const exchanges = () => requests.filter((r) => r.url() === new URL('smart/case-store-token', servers.derm.baseUrl).href);
  const bearerOf = (r: Request) => decodeJwt((r.headers().authorization ?? '').replace(/^Bearer /, ''));

  it('without a patient: signs in at Epic, exchanges its tokens at dermbridge and shows the whole dermbridge queue', async () => {
    await launchFromEpic(`Practitioner/${epicDerm}`);
    await page.waitForSelector('#queue tbody tr');
    assert.equal(await page.locator('#queue tbody tr').count(), 3);
    assert.ok(requests.some((r) => r.url().startsWith(new URL('oauth2/authorize', servers.epic.baseUrl).href)), 'authorized at Epic');
    assert.equal(exchanges().length, 1);
    const form = new URLSearchParams(exchanges()[0].postData() ?? '');
    assert.equal(form.get('ehr'), servers.epic.fhirBase);
    assert.equal(form.get('client_secret'), null, 'no secret in the browser');
    const taskSearch = requests.find((r) => r.url().startsWith(`${servers.derm.fhirBase}/Task?`));
    assert.ok(taskSearch, 'the queue came from dermbridge');
    assert.equal(bearerOf(taskSearch).iss, servers.derm.baseUrl, "with dermbridge's exchanged token, not Epic's");
    assert.equal(await page.isVisible('#patient-banner'), false);
    assert.deepEqual(errors, []);
  });

  it("with a patient: Epic's chart gives the banner, dermbridge the case and its photos; the case-store token is exchanged again before it ends", async () => {
    await launchFromEpic(`Practitioner/${epicDerm}`, epicMaria);
    await page.waitForSelector('#queue tbody tr');
    assert.match(await page.innerText('#patient-banner'), /Maria Elena Garcia/, "the banner is Epic's patient");
    assert.ok(requests.some((r) => r.url() === `${servers.epic.fhirBase}/Patient/${epicMaria}` && bearerOf(r).iss === servers.epic.baseUrl), "read from Epic with Epic's token");
    const rows = await page.$$eval('#queue tbody tr', (trs) => trs.map((tr) => tr.textContent ?? ''));
    assert.equal(rows.length, 1, "only this patient's cases: the exchanged token is bound to her");
    assert.match(rows[0], /Maria Garcia/, "the queue row is dermbridge's record of her");
    const exchanged = exchanges()[0];
    assert.equal(new URLSearchParams(exchanged.postData() ?? '').get('patient'), epicMaria);

    await page.keyboard.press('Enter');
    await page.waitForSelector('.case-header h1');
    assert.match(await page.innerText('.case-header h1'), /Maria Garcia/);
    assert.match(await page.innerText('.triage'), /P1 - urgent/);
    await page.waitForFunction(() => Array.from((globalThis as unknown as PageWindow).document.querySelectorAll('.photos img')).every((img) => img.complete && img.naturalWidth > 0));
    assert.equal(await page.locator('.photos img').count(), 3);
    const binary = requests.find((r) => r.url().startsWith(`${servers.derm.fhirBase}/Binary/`));
    assert.ok(binary, 'photos came from dermbridge');
    assert.equal(bearerOf(binary).patient, await servers.idAt(servers.derm, 'Patient', 'pat-1'));
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'smart-review-case-from-epic.png') });

    // Past the renewal point (80% of the lifetime): the next case-store request exchanges first.
    await page.waitForTimeout((TOKEN_LIFETIME_SECONDS * 0.8 + 1) * 1000);
    await page.keyboard.press('Escape');
    await page.waitForSelector('#queue tbody tr');
    assert.equal(exchanges().length, 2, 'exchanged again before expiry');
    const later = requests.filter((r) => r.url().startsWith(`${servers.derm.fhirBase}/Task?`)).at(-1);
    assert.ok(later);
    assert.notEqual(bearerOf(later).jti, bearerOf(binary).jti, 'with the new token');
    assert.deepEqual(errors, []);
  });

  it('a clinician Epic knows but dermbridge does not is told so, and nothing is shown', async () => {
    const stranger = await servers.epic.dermbridge.repo.createResource<Practitioner>({
      resourceType: 'Practitioner',
      identifier: [{ system: servers.access.practitionerIdentifierSystems[0], value: 'prac-epic-only' }],
      name: [{ family: 'Outsider' }],
    });
    await launchFromEpic(`Practitioner/${stranger.id}`);
    await page.waitForSelector('text=No access to dermbridge cases');
    assert.match(await page.innerText('body'), /not a dermbridge clinician/);
    assert.equal(await page.locator('#queue tbody tr').count(), 0);
  });
});
