/**
 * Crash under load, for the audit trail: test/fhir/durability.test.ts proves that acknowledged
 * writes survive `kill -9`; this proves the same for the AuditEvent of every acknowledged read.
 * A response is sent only after its audit entry is durable, so a read answered 200 before the
 * kill must have its AuditEvent after the restart.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEvent, Bundle } from '@medplum/fhirtypes';
import { demoClientToken, freePort, killChild, startChildServer, type ChildServer } from '../support/child-server';

const PATIENTS = 60;
const WORKERS = 6;

describe('audit trail across kill -9', function () {
  this.timeout(90_000);
  let server: ChildServer | undefined;
  let dataDir: string;

  before(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'dermbridge-audit-kill-'));
  });

  after(async () => {
    await killChild(server);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps the AuditEvent of every read acknowledged before the kill', async () => {
    const port = await freePort();
    server = await startChildServer(dataDir, port);
    const fhir = `${server.baseUrl}fhir/R4/`;
    let token = await demoClientToken(server.baseUrl);
    const headers = () => ({ Authorization: `Bearer ${token}`, 'Content-Type': 'application/fhir+json', Accept: 'application/fhir+json' });
    const seeded = await fetch(fhir, {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: Array.from({ length: PATIENTS }, (_, i) => ({ request: { method: 'POST', url: 'Patient' }, resource: { resourceType: 'Patient', name: [{ family: `Audit${i}` }] } })),
      }),
    });
    assert.equal(seeded.status, 200, await seeded.clone().text());
    const ids = ((await seeded.json()) as Bundle).entry?.map((e) => e.response?.location?.split('/')[1] as string) ?? [];

    // Readers go round the patients until the server dies; a read counts once its 200 is read in full.
    const acknowledged = new Set<string>();
    let next = 0;
    const reader = async (): Promise<void> => {
      for (;;) {
        const id = ids[next++ % ids.length];
        try {
          const res = await fetch(`${fhir}Patient/${id}`, { headers: headers() });
          await res.text();
          if (res.status === 200) {
            acknowledged.add(id);
          }
        } catch {
          return;
        }
      }
    };
    const readers = Array.from({ length: WORKERS }, reader);
    await new Promise((r) => setTimeout(r, 400 + Math.random() * 800));
    server.process.kill('SIGKILL');
    await server.exited;
    await Promise.all(readers);
    assert.ok(acknowledged.size > 0, 'no read was acknowledged before the kill');

    server = await startChildServer(dataDir, port);
    token = await demoClientToken(server.baseUrl);
    const missing: string[] = [];
    for (const id of acknowledged) {
      const res = await fetch(`${fhir}AuditEvent?patient=Patient/${id}&_count=1000`, { headers: headers() });
      const events = (((await res.json()) as Bundle<AuditEvent>).entry ?? []).map((e) => e.resource as AuditEvent);
      if (!events.some((e) => e.action === 'R' && e.outcome === '0')) {
        missing.push(id);
      }
    }
    assert.deepEqual(missing, [], `reads of ${missing.length} of ${acknowledged.size} patients lost their AuditEvent`);
  });
});
