import type { Bundle, QuestionnaireResponse } from '@medplum/fhirtypes';
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import vm from 'node:vm';
import { buildBots } from '../../bots/build';
import { readManifest } from '../../bots/manifest';
import { BOT_DEFINITIONS } from '../../src/bots/bot-catalog';
import { connectStoreClient, storeConnection } from '../../src/client/store-client';
import { fhirHttp } from '../support/fhir-http';
import { startTestServer } from '../support/test-server';
import { sampleCase, settle, submitCase } from './support';

/** Loads a CommonJS bundle the way Medplum's vmcontext runtime does: a fresh context, no `process`, no `require`. */
function loadInSandbox(code: string): { handler: (...args: unknown[]) => Promise<unknown>; context: vm.Context } {
  const module = { exports: {} as Record<string, unknown> };
  const context = vm.createContext({ module, exports: module.exports, console });
  vm.runInContext(code, context, { timeout: 5000 });
  return { handler: module.exports.handler as never, context };
}

describe('bots/build (CommonJS bundles for Medplum vmcontext)', () => {
  let outDir: string;
  let files: string[];

  before(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'dermbridge-bot-build-'));
    files = await buildBots(outDir);
  });

  after(() => {
    rmSync(outDir, { recursive: true, force: true });
  });

  it('the manifest lists exactly the bots the embedded server runs, with the same criteria', () => {
    const manifest = readManifest();
    assert.deepEqual(
      manifest.bots.map((b) => [b.name, b.criteria, b.cronString]),
      BOT_DEFINITIONS.map((d) => [d.name, d.triggers.map((t) => t.criteria), d.everyMinutes ? `*/${d.everyMinutes} * * * *` : undefined])
    );
  });

  it('every bundle loads in a sandbox without process or require and exports handler', () => {
    assert.equal(files.length, BOT_DEFINITIONS.length);
    for (const file of files) {
      const code = readFileSync(file, 'utf8');
      const { handler, context } = loadInSandbox(code);
      assert.equal(typeof handler, 'function', file);
      assert.equal(vm.runInContext('typeof process', context), 'undefined');
    }
  });

  it('the sandboxed triage bundle triages a case through a real MedplumClient', async () => {
    const server = await startTestServer();
    try {
      const http = fhirHttp(server.baseUrl, await server.adminToken());
      const refs = await submitCase(http, sampleCase({ answers: { 'rf-red-most-of-body': true } }));
      await settle(http, [refs.task, refs.sr]);
      const medplum = await connectStoreClient(storeConnection(server.dermbridge.config));
      const { handler } = loadInSandbox(readFileSync(files[0], 'utf8'));
      const qr = (await http.get(refs.qr)).body as QuestionnaireResponse;
      const result = (await handler(medplum, { bot: { reference: 'Bot/x' }, input: qr, contentType: 'application/fhir+json', secrets: {} })) as { priority: string }[];
      assert.equal(result[0].priority, 'P0');
      const ra = (await http.get(`RiskAssessment?identifier=https://dermbridge.example.org/fhir/sid/triage|${refs.sr}`)).body as Bundle;
      assert.equal(ra.entry?.length, 1);
    } finally {
      await server.close();
    }
  });
});
