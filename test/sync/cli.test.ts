import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PULL_STREAM } from '../../src/sync/pull/pull-sync';
import { sourceIdSystem } from '../../src/sync/sync-identifiers';
import { readCheckpoint } from '../../src/sync/sync-records';
import { seedEhrCases, startSyncFixture, type SyncFixture } from './support/sync-fixture';

const ROOT = join(__dirname, '..', '..');

interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}, onSpawn?: (child: ReturnType<typeof spawn>) => void): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--no-warnings=ExperimentalWarning', '--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    onSpawn?.(child);
  });
}

function cliEnv(f: SyncFixture): Record<string, string> {
  return {
    DERMBRIDGE_BASE_URL: f.ours.baseUrl,
    DERMBRIDGE_DATA_DIR: f.ours.dataDir,
    DERMBRIDGE_EHR_NAME: f.settings.name,
    DERMBRIDGE_EHR_FHIR_URL: f.settings.fhirBaseUrl,
    DERMBRIDGE_EHR_CLIENT_ID: f.settings.clientId,
    DERMBRIDGE_EHR_MRN_SYSTEM: f.settings.mrnSystem,
    DERMBRIDGE_EHR_SCOPE: f.settings.scope,
    DERMBRIDGE_EHR_TOKEN_URL: f.settings.tokenEndpoint as string,
  };
}

describe('dermbridge CLI', function () {
  this.timeout(120_000);
  let f: SyncFixture;
  let env: Record<string, string>;

  before(async () => {
    f = await startSyncFixture();
    await seedEhrCases(f.ehrServer, 2, 'cli');
    env = cliEnv(f);
  });
  after(async () => {
    await f.close();
  });

  it('sync pull --dry-run reports what would change and writes nothing', async () => {
    const run = await cli(['sync', 'pull', '--dry-run', '--json'], env);
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout) as { summary: { created: number; dryRun: boolean } };
    assert.equal(out.summary.dryRun, true);
    assert.equal(out.summary.created, 10);
    assert.equal((await f.store.searchResources('Patient')).length, 0);
  });

  it('sync pull prints a summary, and a second run reports 0 changes', async () => {
    const first = await cli(['sync', 'pull'], env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /created 10, updated 0, unchanged 0, failed 0/);
    const second = await cli(['sync', 'pull'], env);
    assert.match(second.stdout, /created 0, updated 0, unchanged \d+, failed 0/);
  });

  it('bulk import streams a file into the embedded store (bulk path) and a re-run changes nothing', async () => {
    const file = join(f.ours.dataDir, 'cli-bulk.ndjson');
    const lines = Array.from({ length: 30 }, (_, i) => JSON.stringify({ resourceType: 'Patient', id: `cli-bulk-${i}`, name: [{ family: `Bulk${i}` }] }));
    writeFileSync(file, [...lines, '{"resourceType":"Patient","gender":"sometimes"}'].join('\n') + '\n');
    const first = await cli(['bulk', 'import', file], env);
    assert.equal(first.code, 1, first.stderr);
    assert.match(first.stdout, /created 30, updated 0, unchanged 0, failed 1/);
    assert.match(first.stdout, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} line 31`));
    const second = await cli(['bulk', 'import', file], env);
    assert.match(second.stdout, /created 0, updated 0, unchanged 30, failed 1/);
    // The bulk path audits one event per batch, naming the file.
    const events = f.ours.dermbridge.audit.search({ agent: 'ClientApplication/dermbridge-demo' }).entry ?? [];
    assert.ok(events.some((e) => JSON.stringify(e.resource).includes('cli-bulk.ndjson')));
  });

  it('sync status shows the checkpoint; sync push with nothing to send exits 0', async () => {
    const status = await cli(['sync', 'status', '--ehr-name', f.settings.name], env);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /pull checkpoint: \d{4}-/);
    const push = await cli(['sync', 'push'], env);
    assert.equal(push.code, 0, push.stderr);
  });

  it('exits 1 with the reason when the EHR refuses our key', async () => {
    f.ehrServer.dermbridge.auth.clients.registerClient({ clientId: f.settings.clientId, scopes: ['system/*.cruds'], secret: 'only-a-secret-now' });
    try {
      const run = await cli(['sync', 'pull'], env);
      assert.equal(run.code, 1);
      assert.match(run.stdout, /refused the sync client's credentials/);
    } finally {
      f.ehrServer.dermbridge.auth.clients.registerClient({ clientId: f.settings.clientId, scopes: ['system/*.cruds'], jwksUri: f.jwksUrl });
    }
  });

  it('exits 2 with the missing setting named, and 1 naming the store when bots deploy cannot reach it', async () => {
    const missing = await cli(['sync', 'pull'], { ...env, DERMBRIDGE_EHR_CLIENT_ID: '' });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /clientId/);
    const bots = await cli(['bots', 'deploy'], { DERMBRIDGE_BASE_URL: 'http://127.0.0.1:9/' });
    assert.equal(bots.code, 1);
    assert.match(bots.stderr, /cannot log in to the case store at http:\/\/127\.0\.0\.1:9\//);
  });
});

describe('dermbridge sync pull killed with SIGKILL mid-sync', function () {
  this.timeout(120_000);
  let f: SyncFixture;
  const CASES = 8;

  before(async () => {
    f = await startSyncFixture();
    await seedEhrCases(f.ehrServer, CASES, 'kill');
  });
  after(async () => {
    await f.close();
  });

  it('resumes from the stored checkpoint on the next run, with every case stored once', async () => {
    // A slow EHR: each ServiceRequest page takes 300 ms, so the kill lands mid-sync.
    f.proxy.inject({ match: (req) => req.originalUrl.includes('/ServiceRequest?'), times: 100, delayMs: 300 });
    const pagesSeen = () => f.proxy.requests.filter((r) => r.url.includes('/ServiceRequest?') && r.status === 200).length;
    const killed = await cli(['sync', 'pull', '--page-size', '1'], cliEnv(f), (child) => {
      const poll = setInterval(() => {
        if (pagesSeen() >= 3) {
          clearInterval(poll);
          child.kill('SIGKILL');
        }
      }, 20);
    });
    assert.equal(killed.code, null, 'killed, not finished');
    const checkpoint = await readCheckpoint(f.store, f.settings.name, PULL_STREAM);
    assert.ok(checkpoint.since, 'a checkpoint was stored before the kill');
    f.proxy.clearFaults();
    f.proxy.requests.length = 0;
    const resumed = await cli(['sync', 'pull', '--page-size', '1', '--json'], cliEnv(f));
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(decodeURIComponent(f.proxy.requests.find((r) => r.url.includes('/ServiceRequest?'))?.url ?? ''), new RegExp(`_lastUpdated=ge${checkpoint.since}`));
    const out = JSON.parse(resumed.stdout) as { serviceRequests: number };
    assert.ok(out.serviceRequests < CASES, `resumed run read ${out.serviceRequests} ServiceRequests, not all ${CASES}`);
    const stored = await f.store.searchResources('ServiceRequest', `identifier=${sourceIdSystem(f.settings.name, 'ServiceRequest')}|&_count=100`);
    assert.equal(stored.length, CASES);
    const patients = await f.store.searchResources('Patient', '_count=100');
    assert.equal(patients.length, CASES);
  });
});
