/**
 * Real headless Chromium (Debian `chromium`, driven by playwright-core) against a real test server
 * playing the EHR, with the demo clinic, patients and e-consult cases.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Config } from '../../src/config/config';
import { seedDemoData } from '../../src/demo/seed-demo-data';
import { seedConformanceResources } from '../../src/fhir/seed-conformance';
import { postTransactionOverHttp, seedDemoCases } from '../../smart-launch/server/demo-cases';
import { startTestServer, type TestServer } from '../support/test-server';

export const CHROMIUM = '/usr/bin/chromium';

/** Where screenshots go: `SCREENSHOT_DIR` (e.g. `docs/screenshots`) or a temp directory. */
export const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR ?? join(tmpdir(), 'dermbridge-smart-screenshots');

/** Third-party cookies and storage blocked, as in the embedded browsers of Epic and Cerner. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: apt-get update && apt-get install -y chromium`);
  }
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--test-third-party-cookie-phaseout'],
  });
}

/** A server that plays the EHR, seeded with the demo clinic and cases; `frameAncestors` may frame the app. */
export async function startEhrServer(frameAncestors: string[], overrides: Partial<Config> = {}): Promise<TestServer> {
  const server = await startTestServer({ smart: { clientId: 'dermbridge-review', ehrs: [], devEhr: true }, frameAncestors, ...overrides });
  const { repo, validator, auth, config } = server.dermbridge;
  await seedConformanceResources(repo, validator.conformance);
  await seedDemoData(repo);
  await seedDemoCases(repo, postTransactionOverHttp(auth), config.profilesDir);
  return server;
}

/** A page on another site (http://localhost:<port>) that embeds a URL in an iframe, as an EHR chart does. */
export interface CrossSiteParent {
  readonly origin: string;
  readonly server: Server;
  /** The URLs the page frames next (`#app`, then `#app2`, ...). */
  setFrame(...urls: string[]): void;
}

export async function startCrossSiteParent(): Promise<CrossSiteParent> {
  let frameUrls = ['about:blank'];
  const server = createServer((_req, res) => {
    res.setHeader('content-type', 'text/html');
    const frames = frameUrls.map((url, i) => `<iframe id="app${i === 0 ? '' : i + 1}" src="${url}" style="width:1300px;height:800px"></iframe>`);
    res.end(`<!doctype html><title>Other-site EHR</title><h1>Other-site EHR chart</h1>${frames.join('')}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { origin: `http://localhost:${port}`, server, setFrame: (...urls) => { frameUrls = urls; } };
}

/** Collects page errors so a test can assert the app ran cleanly (CSP violations show up here too). */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused/.test(m.text())) {
      errors.push(m.text());
    }
  });
  return errors;
}

/** What the browser showed when a test failed, for the CI log's reader (`prefix` names the suite). */
export async function screenshotIfFailed(test: Mocha.Test | undefined, page: Page, prefix: string): Promise<void> {
  if (test?.state !== 'failed') {
    return;
  }
  const name = (test.title.slice(0, 40).replace(/[^a-z0-9]+/gi, '-') || 'test').toLowerCase();
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${prefix}${name}.png`), fullPage: true }).catch(() => undefined);
}
