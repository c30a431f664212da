import type { Binary, Bot, Bundle, Subscription } from '@medplum/fhirtypes';
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectStoreClient, storeConnection } from '../src/client/store-client';
import { fhirHttp } from '../test/support/fhir-http';
import type { TestServer } from '../test/support/test-server';
import { startTestServer } from '../test/support/test-server';
import { deployBots } from './deploy';
import { readManifest } from './manifest';

describe('bots/deploy (against the embedded server Medplum-compatible API)', () => {
  let server: TestServer;
  let outDir: string;

  before(async () => {
    server = await startTestServer();
    outDir = mkdtempSync(join(tmpdir(), 'dermbridge-deploy-'));
  });

  after(async () => {
    rmSync(outDir, { recursive: true, force: true });
    await server.close();
  });

  it('deploys every bot with $deploy and its Subscriptions, and a second deploy adds nothing', async () => {
    const medplum = await connectStoreClient(storeConnection(server.dermbridge.config));
    const http = fhirHttp(server.baseUrl, await server.adminToken());
    const first = await deployBots(medplum, outDir);
    assert.deepEqual(first.map((d) => d.name), readManifest().bots.map((b) => b.name));
    for (const deployed of first) {
      const bot = (await http.get(`Bot/${deployed.botId}`)).body as Bot;
      assert.equal(bot.executableCode?.contentType, 'application/javascript');
      const binary = (await http.get(bot.executableCode?.url as string)).body as Binary;
      assert.match(Buffer.from(binary.data as string, 'base64').toString('utf8'), /handler/);
      const manifestEntry = readManifest().bots.find((b) => b.name === deployed.name);
      assert.equal(deployed.subscriptions.length, manifestEntry?.criteria.length);
    }
    const subscriptionsBefore = ((await http.get('Subscription?_count=100')).body as Bundle<Subscription>).entry?.length;
    const second = await deployBots(medplum, outDir);
    assert.deepEqual(second.map((d) => d.botId), first.map((d) => d.botId));
    assert.deepEqual(second.map((d) => d.subscriptions), first.map((d) => d.subscriptions));
    assert.equal(((await http.get('Subscription?_count=100')).body as Bundle).entry?.length, subscriptionsBefore);
  });

  it('$deploy refuses a body without code', async () => {
    const http = fhirHttp(server.baseUrl, await server.adminToken());
    const bot = ((await http.get('Bot?identifier=https://dermbridge.example.org/fhir/sid/bot|triage')).body as Bundle).entry?.[0]?.resource;
    const res = await http.post(`Bot/${bot?.id}/$deploy`, { filename: 'x.js' });
    assert.equal(res.status, 400);
  });
});
