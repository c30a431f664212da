import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { skinPhoto } from '../images/photo-fixtures';
import { startTestServer, type TestServer } from '../support/test-server';
import { adminGet, adminWrite, newPatientToken } from './intake-http';
import { threePhotos } from './intake-fixtures';

const CHROMIUM = '/usr/bin/chromium';
/** Screenshots land here (look at them: the test proves it works, the picture shows it is usable). */
export const SCREENSHOT_DIR = join(tmpdir(), 'dermbridge-intake-screenshots');

/**
 * Answers every visible, unanswered question the way a hurried user would: first option, "No", a
 * short text. Plain JS in a string: tsx would add helpers (`__name`) the page does not have.
 */
const ANSWER_EVERYTHING = `(() => {
  const fire = (i) => i.dispatchEvent(new Event('change', { bubbles: true }));
  for (const node of document.querySelectorAll('[data-linkid]')) {
    if (node.closest('.hidden')) continue;
    const type = node.dataset.type;
    if (type === 'boolean' && !node.querySelector('input:checked')) {
      const no = node.querySelector('input[value=false]');
      if (no) { no.checked = true; fire(no); }
    } else if (type === 'choice' && !node.querySelector('input:checked')) {
      const first = node.querySelector('.choices input');
      const select = node.querySelector('select');
      if (first) { first.checked = true; fire(first); }
      else if (select && !select.value) { select.selectedIndex = 1; fire(select); }
    } else if (type === 'string' || type === 'text' || type === 'date' || type === 'decimal' || type === 'integer') {
      const input = node.querySelector('input, textarea');
      const value = type === 'date' ? '1980-05-17' : type === 'decimal' || type === 'integer' ? '6' : 'Itchy brown spot on my back';
      if (input && !input.value) { input.value = value; fire(input); }
    }
  }
})()`;

async function answerEverything(page: Page): Promise<void> {
  for (let round = 0; round < 4; round++) {
    await page.evaluate(ANSWER_EVERYTHING);
  }
}

describe('GET /intake/ (the intake page, in headless Chromium)', function () {
  this.timeout(120000);
  let server: TestServer;
  let browser: Browser;

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)`);
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    server = await startTestServer();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('lets a patient on a phone answer the form, see instant photo feedback, send the case and see its status', async () => {
    const { token, id: patientId } = await newPatientToken(server, 'Phone');
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${server.baseUrl}intake/#token=${token}`);
    await page.waitForSelector('form#intake');
    assert.ok(!page.url().includes(token), 'the token is removed from the address bar');

    // enableWhen: the lesion questions appear only for a spot/mole concern
    const lesion = page.locator('[data-linkid="lesion"]');
    assert.equal(await lesion.isHidden(), true);
    await answerEverything(page);
    assert.equal(await lesion.isVisible(), true, 'concern-type "lesion" (first option) shows the lesion group');
    await page.locator('[data-linkid="consent-store-and-forward"] input[value=true]').check();
    await page.locator('[data-linkid="photo-scale-reference"] input[value=true]').check();

    // a blurred photo gets instant advice before anything is sent
    const [a, b, c] = await threePhotos();
    const closeUps = page.locator('[data-linkid="photo-close-up"] input[type=file]');
    await closeUps.setInputFiles([{ name: 'blurred.jpg', mimeType: 'image/jpeg', buffer: await skinPhoto({ blurSigma: 8 }) }]);
    await page.waitForSelector('text=out of focus');
    await page.locator('[data-linkid="photo-overview"] input[type=file]').setInputFiles([{ name: 'overview.jpg', mimeType: 'image/jpeg', buffer: a }]);
    await closeUps.setInputFiles([
      { name: 'close-1.jpg', mimeType: 'image/jpeg', buffer: b },
      { name: 'close-2.jpg', mimeType: 'image/jpeg', buffer: c },
    ]);
    await page.locator('.quality.ok').nth(2).waitFor();
    assert.equal(await page.locator('.quality.ok').count(), 3);
    await page.locator('[data-linkid="photo-set"]').first().screenshot({ path: join(SCREENSHOT_DIR, 'photos-phone.png') });
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'form-phone.png') });

    await page.locator('#submit').click();
    const status = page.locator('#case-status');
    await status.waitFor({ timeout: 30000 });
    assert.match(await status.innerText(), /Received/);
    await page.locator('.thumbs img').nth(2).waitFor();
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'status-phone.png'), fullPage: true });
    assert.deepEqual(pageErrors, []);

    const bodyWidth = await page.evaluate<number>('document.documentElement.scrollWidth');
    assert.ok(bodyWidth <= 390, `no horizontal scrolling on a phone (${bodyWidth}px)`);
    const srs = await adminGet<{ entry?: unknown[] }>(server, `ServiceRequest?subject=Patient/${patientId}`);
    assert.equal(srs.entry?.length, 1);
    await context.close();
  });

  it('shows the missing required answers instead of sending', async () => {
    const { token } = await newPatientToken(server, 'Hasty');
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await page.goto(`${server.baseUrl}intake/#token=${token}`);
    await page.waitForSelector('form#intake');
    await page.locator('#submit').click();
    assert.match(await page.locator('#form-error').innerText(), /required question/);
    assert.ok((await page.locator('text=Please answer this question.').count()) > 5);
    await page.close();
  });

  it('lets a referring clinician send an e-consult for a patient identified by MRN', async () => {
    const pcp = await adminWrite(server, 'post', 'Practitioner', { resourceType: 'Practitioner', name: [{ family: 'Gp' }] });
    const token = await server.token({ scopes: ['user/*.cruds'], fhirUser: `Practitioner/${pcp.id}` });
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await page.goto(`${server.baseUrl}intake/pcp#token=${token}`);
    await page.waitForSelector('form#intake');
    assert.equal(await page.locator('[data-linkid="clinical-question"]').count(), 1);
    const mrn = `MRN-PCP-${Date.now()}`;
    await page.fill('#patient-mrn', mrn);
    await page.fill('#patient-family', 'Referred');
    await page.fill('#patient-given', 'Robin');
    await page.fill('#patient-birth', '1961-02-03');
    await answerEverything(page);
    await page.locator('[data-linkid="consent-interprofessional"] input[value=true]').check();
    const [a, b, c] = await threePhotos();
    await page.locator('[data-linkid="photo-overview"] input[type=file]').setInputFiles([{ name: 'o.jpg', mimeType: 'image/jpeg', buffer: a }]);
    await page.locator('[data-linkid="photo-close-up"] input[type=file]').setInputFiles([
      { name: 'c1.jpg', mimeType: 'image/jpeg', buffer: b },
      { name: 'c2.jpg', mimeType: 'image/jpeg', buffer: c },
    ]);
    await page.locator('#submit').click();
    await page.locator('#case-status').waitFor({ timeout: 30000 });
    const patients = await adminGet<{ entry?: unknown[] }>(server, `Patient?identifier=https://dermbridge.example.org/fhir/sid/mrn|${mrn}`);
    assert.equal(patients.entry?.length, 1);
    await page.close();
  });
});
