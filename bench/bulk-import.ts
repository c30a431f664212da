/**
 * Bulk NDJSON import (#7) against the raw insert rate of the same store, in the same run:
 *
 *   npm run bench:import -- --resources 100000 --runs 3 [--in-thread] [--bundles 10000] [--skip-raw] [--batch-size 1000]
 *
 * Import: `importNdjsonIntoStore` (what `POST /admin/bulk/import` and `bulk import` run on the
 * embedded store) reads a mixed NDJSON file from disk into a fresh store built by `createApp`
 * (validation, Task lifecycle, reference checks, index rows, change log, one AuditEvent per
 * batch, bots listening, WAL + synchronous=FULL).
 * Raw: the same resources as straight INSERTs of their `resource`, `resource_version` and index
 * rows (computed beforehand, not timed) into a fresh store with the same schema and pragmas, in
 * transactions of the import's batch size: what the disk and SQLite allow with no work per resource.
 * Runs alternate (raw, import, raw, import, ...) so drift in machine speed hits both; each figure
 * is the median of its runs.
 */
import type { Resource } from '@medplum/fhirtypes';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config/load-config';
import { INDEX_INSERT_SQL, indexRowColumns } from '../src/fhir/store/index-rows';
import { patientCompartments } from '../src/fhir/store/patient-compartment';
import { indexValuesOf, setBulkPrepareWorkers } from '../src/fhir/store/bulk-prepare';
import { SqliteStore } from '../src/fhir/store/sqlite-store';
import { importNdjsonIntoStore, STORE_BATCH_SIZE } from '../src/sync/bulk/store-import';
import { importNdjson } from '../src/sync/bulk/ndjson-import';
import { connectStoreClient, storeConnection } from '../src/client/store-client';
import type { AddressInfo } from 'node:net';
import { mixedNdjsonLines } from './workloads/mixed-ndjson';
import { median } from './stats';

interface RawRow {
  readonly type: string;
  readonly id: string;
  readonly versionId: string;
  readonly lastUpdated: string;
  readonly content: string;
  readonly index: { readonly kind: string; readonly pid: number; readonly args: (string | number | null)[] }[];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      resources: { type: 'string', default: '100000' },
      runs: { type: 'string', default: '3' },
      'batch-size': { type: 'string', default: String(STORE_BATCH_SIZE) },
      keep: { type: 'boolean', default: false },
      'skip-raw': { type: 'boolean', default: false },
      'in-thread': { type: 'boolean', default: false },
      bundles: { type: 'string', default: '0' },
    },
  });
  const total = Number(values.resources);
  const runs = Number(values.runs);
  const batchSize = Number(values['batch-size']);
  const work = mkdtempSync(join(tmpdir(), 'dermbridge-bench-import-'));
  const file = join(work, 'mixed.ndjson');
  const lines = [...mixedNdjsonLines(total)];
  writeFileSync(file, lines.join('\n') + '\n');
  console.log(`input: ${lines.length.toLocaleString('en')} resources (Practitioner, Patient, Condition, Observation, MedicationStatement, ServiceRequest), ${(Buffer.byteLength(lines.join('\n')) / 2 ** 20).toFixed(1)} MiB, in ${work}`);
  console.log(`${runs} runs of each, alternating; batch size ${batchSize}\n`);

  // Worker startup (each builds a validator, about a second) and JIT warm-up, once, untimed.
  const warmFile = join(work, 'warm.ndjson');
  writeFileSync(warmFile, [...mixedNdjsonLines(3000, 99, 'warm')].join('\n') + '\n');
  await bulkImport(warmFile, 3000, join(work, 'warm'), batchSize);

  const raw: number[] = [];
  const imported: number[] = [];
  const inThread: number[] = [];
  const viaBundles: number[] = [];
  const bundleLines = Math.min(Number(values.bundles), lines.length);
  const bundleFile = join(work, 'bundles.ndjson');
  if (bundleLines > 0) {
    writeFileSync(bundleFile, lines.slice(0, bundleLines).join('\n') + '\n');
  }
  const threads = availableParallelism();
  for (let run = 1; run <= runs; run++) {
    if (!values['skip-raw']) {
      const rate = await rawInsert(lines, join(work, `raw-${run}`), batchSize);
      raw.push(rate);
      console.log(`run ${run}: raw insert                    ${fmt(rate)} resources/s`);
    }
    if (values['in-thread']) {
      setBulkPrepareWorkers(0);
      const rate = await bulkImport(file, lines.length, join(work, `in-thread-${run}`), batchSize);
      setBulkPrepareWorkers(undefined);
      inThread.push(rate);
      console.log(`run ${run}: bulk import, all in one thread ${fmt(rate)} resources/s ${cpuNote()}`);
    }
    if (bundleLines > 0) {
      const rate = await bundleImport(bundleFile, bundleLines, join(work, `bundles-${run}`));
      viaBundles.push(rate);
      console.log(`run ${run}: the path as found (Bundles over HTTP, first ${fmt(bundleLines)} lines) ${fmt(rate)} resources/s`);
    }
    const rate = await bulkImport(file, lines.length, join(work, `import-${run}`), batchSize);
    imported.push(rate);
    console.log(`run ${run}: bulk import (${threads} prepare workers) ${fmt(rate)} resources/s ${cpuNote()}`);
  }
  const i = median(imported);
  const r = median(raw);
  console.log(`\n| figure (median of ${runs}) | resources/s |\n|---|--:|`);
  console.log(`| bulk NDJSON import: validated, indexed, audited, durable (${threads} prepare workers) | ${fmt(i)} |`);
  if (inThread.length) {
    console.log(`| the same, all in the writer thread | ${fmt(median(inThread))} |`);
  }
  if (viaBundles.length) {
    console.log(`| before: transaction Bundles of 500 over HTTP (first ${fmt(bundleLines)} lines) | ${fmt(median(viaBundles))} |`);
  }
  if (raw.length) {
    console.log(`| raw insert of the same rows | ${fmt(r)} |`);
    console.log(`| import ÷ raw | ${(i / r).toFixed(2)}× |`);
  }
  console.log(`| DESIGN.md target | ≥ 10,000 (${i >= 10_000 ? 'met' : 'not met'}) |`);
  if (!values.keep) {
    rmSync(work, { recursive: true, force: true });
  }
}

let lastCpu = { allUs: 0, writerUs: 0 };
const cpuNote = (): string => `(CPU per resource: ${lastCpu.allUs.toFixed(0)} µs in all threads, ${lastCpu.writerUs.toFixed(0)} µs in the writer thread)`;

const fmt = (n: number): string => Math.round(n).toLocaleString('en');

/** The import as the admin API runs it on the embedded store; resources/s from first byte to summary. */
async function bulkImport(file: string, count: number, dir: string, batchSize: number): Promise<number> {
  const app = createApp(loadConfig({}, { dataDir: dir, logLevel: 'silent' }), { logger: pino({ level: 'silent' }) });
  const started = performance.now();
  const cpu = process.cpuUsage();
  const threadCpu = process.threadCpuUsage();
  let last = started;
  const summary = await importNdjsonIntoStore(
    { repo: app.repo, audit: app.audit, agent: { agent: 'Device/bench', clientId: 'bench', tokenId: 'bench' } },
    createReadStream(file),
    {
      batchSize,
      source: 'mixed.ndjson',
      onProgress: (done) => {
        const now = performance.now();
        if (now - last > 1000) {
          last = now;
          process.stdout.write(`\r  importing: ${done}/${count} lines (${Math.round(done / ((now - started) / 1000))}/s)   `);
        }
      },
    }
  );
  const seconds = (performance.now() - started) / 1000;
  const all = process.cpuUsage(cpu);
  const writer = process.threadCpuUsage(threadCpu);
  process.stdout.write('\r' + ' '.repeat(70) + '\r');
  // CPU per resource says what a quiet machine would do: the writer thread's share bounds the
  // rate however many cores there are; all threads' share, divided by the cores, bounds it too.
  lastCpu = { allUs: (all.user + all.system) / count, writerUs: (writer.user + writer.system) / count };
  if (summary.failed > 0 || summary.created !== count) {
    throw new Error(`import did not create every resource: ${JSON.stringify(summary).slice(0, 600)}`);
  }
  await app.close();
  return count / seconds;
}

/**
 * The import as it was before the bulk path (and as it still runs against a real Medplum):
 * `importNdjson` through MedplumClient, transaction Bundles of 500, 2 in flight, over HTTP to a
 * server listening on loopback.
 */
async function bundleImport(file: string, count: number, dir: string): Promise<number> {
  const config = loadConfig({}, { dataDir: dir, logLevel: 'silent', port: 0 });
  const probe = createApp(config, { logger: pino({ level: 'silent' }) });
  const server = probe.app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  // The base URL must be the one the client calls (token audience, fullUrls).
  server.close();
  await probe.close();
  const app = createApp(loadConfig({}, { dataDir: dir, logLevel: 'silent', port, baseUrl: `http://127.0.0.1:${port}/` }), { logger: pino({ level: 'silent' }) });
  const listening = app.app.listen(port, '127.0.0.1');
  await new Promise<void>((resolve) => listening.once('listening', () => resolve()));
  try {
    const client = await connectStoreClient(storeConnection(app.config));
    const started = performance.now();
    const summary = await importNdjson(client, createReadStream(file), { source: 'bundles.ndjson' });
    const seconds = (performance.now() - started) / 1000;
    if (summary.failed > 0) {
      // Two Bundles in flight may commit out of order, so a ServiceRequest can be refused for a
      // Practitioner still in the other Bundle: a flaw of that path, counted, not hidden.
      console.log(`  (Bundles: ${summary.failed} of ${count} refused: ${summary.failures[0]?.reason ?? ''})`);
    }
    return count / seconds;
  } finally {
    listening.closeAllConnections();
    await new Promise<void>((resolve) => listening.close(() => resolve()));
    await app.close();
  }
}

/** Straight INSERTs of precomputed rows: the store's ceiling on this disk. */
async function rawInsert(lines: readonly string[], dir: string, batchSize: number): Promise<number> {
  const store = new SqliteStore({ path: join(dir, 'dermbridge.sqlite'), baseUrl: 'http://localhost/' });
  const lastUpdated = new Date().toISOString();
  const rows: RawRow[] = lines.map((line, n) => {
    const resource = JSON.parse(line) as Resource & { id: string };
    resource.meta = { versionId: `v${n}`, lastUpdated };
    const compartment = patientCompartments(resource);
    if (compartment.length) {
      resource.meta.compartment = compartment;
    }
    const index: RawRow['index'] = [];
    // The very rows the store writes (indexValuesOf), so the baseline cannot drift from it.
    for (const { code, values } of indexValuesOf(resource)) {
      const pid = store.params.lookup(resource.resourceType, code) as number;
      index.push(...indexRowColumns(values).map((args) => ({ kind: values.kind, pid, args })));
    }
    return { type: resource.resourceType, id: resource.id, versionId: resource.meta.versionId as string, lastUpdated, content: JSON.stringify(resource), index };
  });
  const db = store.writer;
  const insertResource = db.prepare('INSERT INTO resource (type, id, version_id, last_updated, deleted, content) VALUES (?, ?, ?, ?, 0, ?)');
  const insertVersion = db.prepare('INSERT INTO resource_version (rid, version_id, last_updated, deleted, content) VALUES (?, ?, ?, 0, ?)');
  const insertIndex = Object.fromEntries(Object.entries(INDEX_INSERT_SQL).map(([kind, sql]) => [kind, db.prepare(sql)]));
  const started = performance.now();
  for (let from = 0; from < rows.length; from += batchSize) {
    db.exec('BEGIN IMMEDIATE');
    for (const row of rows.slice(from, from + batchSize)) {
      const rid = Number(insertResource.run(row.type, row.id, row.versionId, row.lastUpdated, row.content).lastInsertRowid);
      insertVersion.run(rid, row.versionId, row.lastUpdated, row.content);
      for (const ix of row.index) {
        insertIndex[ix.kind].run(ix.pid, ...ix.args, rid);
      }
    }
    db.exec('COMMIT');
  }
  const seconds = (performance.now() - started) / 1000;
  // close(), not the connections alone: the store's checkpoint thread would keep the process alive.
  await store.close();
  return rows.length / seconds;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
