import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { WorkloadSummary } from './stats';
import type { SeedResult } from './workloads/seed';
import type { StartupResult } from './workloads/startup';
import type { WorkloadKey } from './workloads/http-workloads';

/**
 * Medplum 5.0.10 figures recorded in DESIGN.md ("The embedded store: shape and scale"), measured
 * once on this machine kind (Postgres 15 + Redis 7, 8 keep-alive clients). NOT re-measured by this
 * harness; the design target is at least twice these. Ranges are compared at their upper end.
 */
export const MEDPLUM_RECORDED: Record<WorkloadKey, { readonly low: number; readonly high: number; readonly p95Ms?: number }> = {
  create: { low: 580, high: 660 },
  read: { low: 2400, high: 2600 },
  search: { low: 1500, high: 1700 },
  transaction: { low: 120, high: 120 },
  batch: { low: 480, high: 480 },
  queue: { low: 530, high: 530, p95Ms: 23 },
};

export const LABELS: Record<WorkloadKey, string> = {
  create: 'create Patient',
  read: 'read Patient',
  search: 'identifier search',
  transaction: '10-entry transaction',
  batch: 'batch ingest (res/s)',
  queue: 'review-queue query',
};

export interface RowData {
  readonly key: WorkloadKey;
  readonly http: WorkloadSummary;
  readonly baseline?: WorkloadSummary;
  /** Too slow to load-test: the figures are one request's latency and 1000 / that latency. */
  readonly aloneOnly?: boolean;
}

/** Throughput that the comparisons use: resources/s for batch ingest, operations/s otherwise. */
function throughput(key: WorkloadKey, s: WorkloadSummary): number {
  return key === 'batch' ? (s.resourcesPerSec ?? Number.NaN) : s.opsPerSec;
}

export interface Comparison {
  readonly httpPerSec: number;
  readonly baselinePerSec?: number;
  /** Embedded-over-HTTP ÷ MemoryRepository: the cost of HTTP + durability + validation. */
  readonly vsMemoryRepository?: number;
  /** Embedded-over-HTTP ÷ recorded Medplum (upper end of range); the design asks for ≥ 2. */
  readonly vsRecordedMedplum: number;
  readonly meetsTwiceMedplum: boolean;
}

export function compare(row: RowData): Comparison {
  const httpPerSec = throughput(row.key, row.http);
  const baselinePerSec = row.baseline ? throughput(row.key, row.baseline) : undefined;
  const medplum = MEDPLUM_RECORDED[row.key];
  const vsRecordedMedplum = httpPerSec / medplum.high;
  const p95Ok = medplum.p95Ms === undefined || row.http.latency.p95 <= medplum.p95Ms / 2;
  return {
    httpPerSec,
    ...(baselinePerSec === undefined ? {} : { baselinePerSec, vsMemoryRepository: httpPerSec / baselinePerSec }),
    vsRecordedMedplum,
    meetsTwiceMedplum: vsRecordedMedplum >= 2 && p95Ok,
  };
}

const fmt = (n: number | undefined, digits = 0): string =>
  n === undefined || !Number.isFinite(n) ? '—' : n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ratio = (n: number | undefined): string => (n === undefined || !Number.isFinite(n) ? '—' : `${n < 0.1 ? n.toFixed(3) : n.toFixed(2)}×`);

/** The results table as Markdown (printed to stdout and pasted into bench/README.md). */
export function markdownTable(rows: readonly RowData[]): string {
  const header =
    '| workload | embedded, HTTP /s | p50 ms | p95 ms | p99 ms | MemoryRepository in-process /s | HTTP ÷ MemoryRepository | vs recorded Medplum 5.0.10 numbers (not re-measured) | ≥ 2× Medplum? |';
  const lines = [header, '|---|--:|--:|--:|--:|--:|--:|--:|:-:|'];
  for (const row of rows) {
    const c = compare(row);
    const m = MEDPLUM_RECORDED[row.key];
    const medplum = `${ratio(c.vsRecordedMedplum)} of ${m.low === m.high ? fmt(m.high) : `${fmt(m.low)}–${fmt(m.high)}`}${m.p95Ms ? ` (p95 ${m.p95Ms})` : ''}`;
    const failures = (row.http.failures ? ` ⚠ ${row.http.failures} failed` : '') + (row.aloneOnly ? ' ⚠ one request only, not load-tested' : '');
    lines.push(
      `| ${LABELS[row.key]}${failures} | ${fmt(c.httpPerSec, c.httpPerSec < 10 ? 2 : 0)} | ${fmt(row.http.latency.p50, 1)} | ${fmt(row.http.latency.p95, 1)} | ${fmt(row.http.latency.p99, 1)} | ` +
        `${fmt(c.baselinePerSec)} | ${ratio(c.vsMemoryRepository)} | ${medplum} | ${c.meetsTwiceMedplum ? 'yes' : '**no**'} |`
    );
  }
  return lines.join('\n');
}

export function seedingTable(seeds: Readonly<Record<string, SeedResult>>): string {
  const lines = ['| seeding over HTTP (transaction bundles, 4 in flight) | resources | seconds | resources/s |', '|---|--:|--:|--:|'];
  for (const [what, s] of Object.entries(seeds)) {
    lines.push(`| ${what} | ${fmt(s.count)} | ${fmt(s.seconds, 1)} | ${fmt(s.resourcesPerSec)} |`);
  }
  return lines.join('\n');
}

export function startupTable(result: StartupResult, loadedRssMiB: number | undefined): string {
  const { seeded, empty } = result;
  const r = (a: number, b: number): string => ratio(a / b);
  return [
    `| start-up / memory (median of ${seeded.runs.length}) | seeded store (${fmt(result.storeBytes / 1048576, 1)} MiB on disk) | empty store | seeded ÷ empty |`,
    '|---|--:|--:|--:|',
    `| spawn → /healthcheck 200 (ms) | ${fmt(seeded.readyMs)} | ${fmt(empty.readyMs)} | ${r(seeded.readyMs, empty.readyMs)} |`,
    `| spawn → first FHIR read (ms) | ${fmt(seeded.firstReadMs)} | ${fmt(empty.firstReadMs)} | ${r(seeded.firstReadMs, empty.firstReadMs)} |`,
    `| VmRSS after start (MiB) | ${fmt(seeded.rssAfterStartMiB)} | ${fmt(empty.rssAfterStartMiB)} | ${r(seeded.rssAfterStartMiB, empty.rssAfterStartMiB)} |`,
    `| VmRSS after warm-up (MiB) | ${fmt(seeded.rssAfterWarmupMiB)} | ${fmt(empty.rssAfterWarmupMiB)} | ${r(seeded.rssAfterWarmupMiB, empty.rssAfterWarmupMiB)} |`,
    `| VmHWM peak after warm-up (MiB) | ${fmt(seeded.peakRssMiB)} | ${fmt(empty.peakRssMiB)} | ${r(seeded.peakRssMiB, empty.peakRssMiB)} |`,
    `| SIGTERM → exit (ms) | ${fmt(seeded.stopMs)} | ${fmt(empty.stopMs)} | |`,
    ...(loadedRssMiB === undefined ? [] : [`| VmRSS of the server at the end of the HTTP workloads (MiB) | ${fmt(loadedRssMiB)} | | |`]),
  ].join('\n');
}

export function writeJson(path: string, data: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(data, null, 2) + '\n');
}
