/**
 * The embedded store's bulk write path (#7): NDJSON straight into the store, a transaction per
 * batch. Same rules as any write: validated, references checked, indexed, change-logged, audited;
 * a refused line skipped with the rest of its batch committed; a re-import changes nothing.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { AuditEvent, Observation, Patient } from '@medplum/fhirtypes';
import type { CommittedChange } from '../../src/fhir/store/sqlite-store';
import { importNdjsonIntoStore, type StoreImportTarget } from '../../src/sync/bulk/store-import';
import { mixedNdjsonLines, RESOURCES_PER_PATIENT } from '../../bench/workloads/mixed-ndjson';
import { retainedHeapSampler } from '../support/retained-heap';
import { startTestServer, type TestServer } from '../support/test-server';

const AGENT = { agent: 'ClientApplication/importer', clientId: 'importer', tokenId: 'tok-1' };

function ndjson(lines: Iterable<string>): Readable {
  return Readable.from([...lines].map((l) => l + '\n'));
}

describe('bulk import through the store (one transaction per batch)', () => {
  let server: TestServer;
  let target: StoreImportTarget;
  const count = (sql: string, ...args: string[]): number =>
    Number((server.dermbridge.store.reader.prepare(sql).get(...args) as { n: number }).n);

  before(async () => {
    server = await startTestServer();
    target = { repo: server.dermbridge.repo, audit: server.dermbridge.audit, agent: AGENT };
  });

  after(async () => {
    await server.close();
  });

  it('imports a mixed NDJSON, indexed for search, and a re-import changes nothing', async () => {
    const total = 50 + 20 * RESOURCES_PER_PATIENT;
    const changes: CommittedChange[][] = [];
    const unsubscribe = server.dermbridge.store.onCommitted((c) => changes.push(c));
    const first = await importNdjsonIntoStore(target, ndjson(mixedNdjsonLines(total, 1, 'mx')), { batchSize: 64, source: 'mixed.ndjson' });
    assert.deepEqual([first.created, first.updated, first.unchanged, first.failed], [total, 0, 0, 0], JSON.stringify(first.failures));

    // Index rows: searches by token, reference and date find the imported resources.
    const repo = server.dermbridge.repo;
    const patients = await repo.searchResources<Patient>({ resourceType: 'Patient', filters: [{ code: 'identifier', operator: 'eq' as never, value: 'urn:dermbridge:bench:bulk-mrn|mx-mrn-3' }] });
    assert.deepEqual(patients.map((p) => p.id), ['mx-pt-3']);
    const observations = await repo.searchResources<Observation>({ resourceType: 'Observation', filters: [{ code: 'subject', operator: 'eq' as never, value: 'Patient/mx-pt-3' }] });
    assert.equal(observations.length, 5);
    assert.deepEqual(observations[0].meta?.compartment, [{ reference: 'Patient/mx-pt-3' }]);

    // Change log and listeners: every resource, told once per committed batch.
    const seen = changes.flat().filter((c) => c.id.startsWith('mx-'));
    assert.equal(seen.length, total);
    const batches = changes.filter((c) => c.some((x) => x.id.startsWith('mx-')));
    assert.equal(batches.length, Math.ceil(total / 64), 'one notification per batch');
    // Kept, it would hold every change of the later tests (the memory test counts on that not happening).
    unsubscribe();
    assert.equal(count("SELECT COUNT(*) AS n FROM change_log WHERE id LIKE 'mx-%' AND interaction = 'create'"), total);

    // Bots react to the imported ServiceRequests on their own schedule; count what only the import writes.
    const mine = "FROM resource_version v JOIN resource r USING (rid) WHERE r.id LIKE 'mx-%' AND r.type <> 'ServiceRequest'";
    const versionsBefore = count(`SELECT COUNT(*) AS n ${mine}`);
    const second = await importNdjsonIntoStore(target, ndjson(mixedNdjsonLines(total, 1, 'mx')), { batchSize: 64 });
    assert.deepEqual([second.created, second.updated, second.unchanged, second.failed], [0, 0, total, 0]);
    assert.equal(count(`SELECT COUNT(*) AS n ${mine}`), versionsBefore, 'no new versions');
    assert.equal(count("SELECT COUNT(*) AS n FROM change_log WHERE id LIKE 'mx-%' AND type <> 'ServiceRequest'"), total - 20, 'no new change-log rows');
  });

  it('reports refused lines and commits the rest of their batch', async () => {
    const lines = [
      JSON.stringify({ resourceType: 'Patient', id: 'rf-1', name: [{ family: 'One' }] }),
      '{"resourceType": "Patient", "id": "rf-2"',
      JSON.stringify({ resourceType: 'Patient', id: 'rf-3', gender: 'sometimes' }),
      JSON.stringify({ resourceType: 'Observation', id: 'rf-4', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/nowhere' } }),
      // Points at rf-3, which is refused: it cannot be stored either.
      JSON.stringify({ resourceType: 'Observation', id: 'rf-5', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/rf-3' } }),
      // Points at rf-7, later in the same batch: resolves, as in a transaction bundle.
      JSON.stringify({ resourceType: 'Observation', id: 'rf-6', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/rf-7' } }),
      JSON.stringify({ resourceType: 'Patient', id: 'rf-7', name: [{ family: 'Seven' }] }),
    ];
    const summary = await importNdjsonIntoStore(target, ndjson(lines), { source: 'refused.ndjson' });
    assert.deepEqual([summary.created, summary.failed], [3, 4], JSON.stringify(summary));
    const failed = new Map(summary.failures.map((f) => [f.item, f.reason]));
    assert.deepEqual([...failed.keys()].map((k) => k.replace(/ \(.*/, '')).sort(), ['refused.ndjson line 2', 'refused.ndjson line 3', 'refused.ndjson line 4', 'refused.ndjson line 5']);
    assert.match(failed.get('refused.ndjson line 3 (Patient/rf-3)') ?? '', /gender|sometimes/);
    assert.match(failed.get('refused.ndjson line 4 (Observation/rf-4)') ?? '', /Patient\/nowhere/);
    assert.match(failed.get('refused.ndjson line 5 (Observation/rf-5)') ?? '', /Patient\/rf-3/);
    assert.equal(count("SELECT COUNT(*) AS n FROM resource WHERE id IN ('rf-1', 'rf-6', 'rf-7')"), 3);
    assert.equal(count("SELECT COUNT(*) AS n FROM resource WHERE id IN ('rf-2', 'rf-3', 'rf-4', 'rf-5')"), 0);
  });

  it('commits batches in input order, even when a later (smaller) batch is prepared first', async () => {
    const patients = Array.from({ length: 40 }, (_, i) => JSON.stringify({ resourceType: 'Patient', id: `ord-${i}`, name: [{ family: `Order${i}` }] }));
    const observations = Array.from({ length: 5 }, (_, i) =>
      JSON.stringify({ resourceType: 'Observation', id: `ord-obs-${i}`, status: 'final', code: { text: 'x' }, subject: { reference: `Patient/ord-${i}` } })
    );
    // 40 Patients go to the worker threads; the 5 Observations after them are prepared in-thread at once.
    const summary = await importNdjsonIntoStore(target, ndjson([...patients, ...observations]), { batchSize: 40 });
    assert.deepEqual([summary.created, summary.failed], [45, 0], JSON.stringify(summary.failures));
  });

  it('updates a changed resource as a new version', async () => {
    const line = (family: string) => JSON.stringify({ resourceType: 'Patient', id: 'up-1', name: [{ family }] });
    await importNdjsonIntoStore(target, ndjson([line('Before')]));
    const summary = await importNdjsonIntoStore(target, ndjson([line('After')]));
    assert.deepEqual([summary.created, summary.updated, summary.unchanged], [0, 1, 0]);
    const patient = await server.dermbridge.repo.readResource<Patient>('Patient', 'up-1');
    assert.equal(patient.name?.[0]?.family, 'After');
    const history = await server.dermbridge.repo.readHistory('Patient', 'up-1');
    assert.equal(history.entry?.length, 2);
    const found = await server.dermbridge.repo.searchResources<Patient>({ resourceType: 'Patient', filters: [{ code: 'family', operator: 'eq' as never, value: 'Before' }] });
    assert.equal(found.filter((p) => p.id === 'up-1').length, 0, 'old index rows replaced');
  });

  it('commits a batch as one transaction: a failure at commit time stores none of it', async () => {
    const resources: Patient[] = [1, 2, 3].map((i) => ({ resourceType: 'Patient', id: `tx-${i}`, name: [{ family: `Tx${i}` }] }));
    await assert.rejects(
      server.dermbridge.repo.bulkUpsert(resources, {
        beforeCommit: () => {
          throw new Error('disk full');
        },
      }),
      /disk full/
    );
    assert.equal(count("SELECT COUNT(*) AS n FROM resource WHERE id LIKE 'tx-%'"), 0);
    assert.equal(count("SELECT COUNT(*) AS n FROM change_log WHERE id LIKE 'tx-%'"), 0);
    // The writer is free again and the same batch goes in.
    const outcomes = await server.dermbridge.repo.bulkUpsert(resources);
    assert.deepEqual(outcomes.map((o) => o.status), ['created', 'created', 'created']);
  });

  it('holds memory flat while it streams 100,000 resources (worker threads included)', async function () {
    this.timeout(300_000);
    const total = Number(process.env.STORE_IMPORT_TEST_COUNT ?? 100_000);
    const heap = retainedHeapSampler(total);
    const summary = await importNdjsonIntoStore(target, Readable.from((function* () {
      for (const line of mixedNdjsonLines(total, 3, 'mem')) {
        yield line + '\n';
      }
    })()), { onProgress: heap.onProgress });
    assert.equal(summary.failed, 0, JSON.stringify(summary.failures.slice(0, 3)));
    assert.equal(summary.created, total);
    const mb = heap.mb();
    assert.ok(Math.max(...mb) < 64, `retained heap grew ${Math.max(...mb)} MB`);
    // From the second tenth on: the first fills lazy caches (validators, prepared statements, workers).
    console.log(`      retained heap growth per tenth (MB): ${mb.join(' ')}`);
    assert.ok(mb[mb.length - 1] - mb[1] < 16, `retained heap grew with the input: ${mb.join(' ')}`);
  });

  it('records one AuditEvent per batch: who, from where, what was written, whose data', async () => {
    const lines = [
      JSON.stringify({ resourceType: 'Patient', id: 'au-1', name: [{ family: 'Audit' }] }),
      JSON.stringify({ resourceType: 'Observation', id: 'au-2', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/au-1' } }),
      JSON.stringify({ resourceType: 'Patient', id: 'au-3', gender: 'sometimes' }),
    ];
    await importNdjsonIntoStore(target, ndjson(lines), { source: 'audit.ndjson' });
    const events = server.dermbridge.audit.search({ patient: 'Patient/au-1' }).entry?.map((e) => e.resource as AuditEvent) ?? [];
    assert.equal(events.length, 1);
    const event = events[0];
    assert.equal(event.agent?.[0]?.who?.reference, AGENT.agent);
    assert.equal(event.action, 'C');
    assert.equal(event.outcome, '4', 'a refused line marks the batch');
    const entities = event.entity?.map((e) => e.what?.reference).filter(Boolean);
    assert.deepEqual(entities, ['Patient/au-1', 'Observation/au-2', 'Patient/au-1']);
    const dataSet = event.entity?.find((e) => e.name);
    assert.equal(dataSet?.name, 'audit.ndjson');
    assert.match(dataSet?.description ?? '', /created 2, updated 0, unchanged 0, refused 1/);
  });
});
