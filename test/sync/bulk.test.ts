import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import type { Patient } from '@medplum/fhirtypes';
import { importBulkManifest, runBulkExport } from '../../src/sync/bulk/bulk-export-client';
import { exportNdjson } from '../../src/sync/bulk/ndjson-export';
import { importNdjson } from '../../src/sync/bulk/ndjson-import';
import { retainedHeapSampler } from '../support/retained-heap';
import { EHR_MRN, seedEhrCases, startSyncFixture, type SyncFixture } from './support/sync-fixture';

function patientLine(i: number, prefix = 'bulk'): string {
  return JSON.stringify({ resourceType: 'Patient', id: `${prefix}-${i}`, identifier: [{ system: EHR_MRN, value: `${prefix}-${i}` }], name: [{ family: `Bulk${i}` }], gender: i % 2 ? 'female' : 'male' });
}

function* patientLines(count: number, prefix = 'bulk'): Generator<string> {
  for (let i = 0; i < count; i++) {
    yield patientLine(i, prefix);
  }
}

function ndjson(lines: Iterable<string>): Readable {
  return Readable.from((function* () {
    for (const line of lines) {
      yield line + '\n';
    }
  })());
}

describe('bulk NDJSON import and export', () => {
  let f: SyncFixture;

  before(async () => {
    f = await startSyncFixture();
  });

  after(async () => {
    await f.close();
  });

  it('imports NDJSON, and a second import of the same lines changes nothing', async () => {
    const first = await importNdjson(f.store, ndjson(patientLines(50, 'small')), { batchSize: 20 });
    assert.deepEqual([first.created, first.failed], [50, 0], JSON.stringify(first));
    const second = await importNdjson(f.store, ndjson(patientLines(50, 'small')), { batchSize: 20 });
    assert.deepEqual([second.created, second.updated, second.unchanged, second.failed], [0, 0, 50, 0], JSON.stringify(second));
  });

  it('reports bad lines with their line numbers and imports the rest', async () => {
    const lines = [patientLine(1, 'bad'), '{"resourceType": "Patient", "id": "bad-2"', '{"no":"type"}', JSON.stringify({ resourceType: 'Patient', id: 'bad-4', gender: 'sometimes' }), patientLine(5, 'bad')];
    const summary = await importNdjson(f.store, ndjson(lines), { source: 'bad.ndjson' });
    assert.equal(summary.created, 2);
    assert.equal(summary.failed, 3);
    assert.deepEqual(summary.failures.map((x) => x.item.replace(/ \(.*/, '')).sort(), ['bad.ndjson line 2', 'bad.ndjson line 3', 'bad.ndjson line 4']);
    assert.match(summary.failures.find((x) => x.item.startsWith('bad.ndjson line 4'))?.reason ?? '', /gender|sometimes/);
  });

  it('runs an EHR $export (kick-off, poll, download with the token) into the store', async () => {
    await seedEhrCases(f.ehrServer, 3, 'exp');
    const ehrToken = await f.ehrServer.adminToken();
    const searchLines = (type: string) =>
      async function* () {
        const res = await fetch(`${f.ehrServer.baseUrl}fhir/R4/${type}?_count=100`, { headers: { authorization: `Bearer ${ehrToken}` } });
        for (const e of ((await res.json()) as { entry?: { resource: Patient }[] }).entry ?? []) {
          yield JSON.stringify(e.resource);
        }
      };
    // Listed before the Practitioners they reference: the importer must reorder.
    f.proxy.setExport(() => ({ files: { Patient: searchLines('Patient'), Practitioner: searchLines('Practitioner') } }));
    const { ehr, tokens } = await f.connect();
    const manifest = await runBulkExport({ ehr, tokens, types: ['Patient', 'Practitioner'], pollIntervalMs: 10 });
    assert.equal(manifest.output.length, 2);
    assert.ok(f.proxy.requests.some((r) => r.url.startsWith('/bulkstatus/') && r.status === 202), 'polled while in progress');
    const summary = await importBulkManifest(f.store, manifest, { tokens });
    assert.deepEqual([summary.created, summary.failed], [3 + 1, 0], JSON.stringify(summary));
    assert.ok(await f.store.searchOne('Patient', `identifier=${EHR_MRN}|exp-2`));
  });

  it('exports the store as NDJSON, one resource a line', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    const count = await exportNdjson(f.store, sink, { types: ['Patient'], pageSize: 17 });
    assert.equal(count, lines.length);
    assert.equal(count, 50 + 2 + 3);
    assert.ok(lines.every((l) => (JSON.parse(l) as Patient).resourceType === 'Patient'));
  });

  // 100,000 go through the store's bulk path (store-import.test.ts); this path, Bundles over HTTP,
  // is the one used against a real Medplum, and 20,000 already show whether its memory is flat.
  it('imports 20,000 resources as Bundles over HTTP in bounded memory', async function () {
    this.timeout(600_000);
    const total = Number(process.env.SYNC_BULK_TEST_COUNT ?? 20_000);
    const heap = retainedHeapSampler(total);
    const started = Date.now();
    const summary = await importNdjson(f.store, ndjson(patientLines(total, 'big')), {
      batchSize: 500,
      concurrency: 2,
      onProgress: heap.onProgress,
    });
    assert.deepEqual([summary.created, summary.failed], [total, 0], JSON.stringify(summary).slice(0, 500));
    const seconds = (Date.now() - started) / 1000;
    const mb = heap.mb();
    console.log(`      ${total} imported in ${seconds.toFixed(1)} s (${Math.round(total / seconds)} resources/s); retained heap growth per tenth (MB): ${mb.join(' ')}`);
    assert.ok(Math.max(...mb) < 48, `retained heap grew ${Math.max(...mb)} MB`);
    assert.ok(mb[mb.length - 1] - mb[0] < 16, 'retained heap grew with the input');
  });
});
