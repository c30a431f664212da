import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FhirHttp } from '../http-client';
import { ServerProcess } from '../server-process';
import { median } from '../stats';
import { MRN_SYSTEM, queueQuery, seededMrn } from './fixtures';

/** One cold start of the server on a data directory. */
export interface StartupRun {
  /** Spawn → first 200 from /healthcheck. */
  readonly readyMs: number;
  /** Spawn → first answered FHIR read (token issued, store opened, definitions loaded). */
  readonly firstReadMs: number;
  /** VmRSS right after the first read. */
  readonly rssAfterStartMiB: number;
  /** VmRSS after a warm-up of reads, identifier searches and queue queries. */
  readonly rssAfterWarmupMiB: number;
  /** VmHWM (peak) at the end of the warm-up. */
  readonly peakRssMiB: number;
  /** SIGTERM → exit. */
  readonly stopMs: number;
}

export interface StartupSummary {
  readonly readyMs: number;
  readonly firstReadMs: number;
  readonly rssAfterStartMiB: number;
  readonly rssAfterWarmupMiB: number;
  readonly peakRssMiB: number;
  readonly stopMs: number;
  readonly runs: readonly StartupRun[];
}

export interface StartupResult {
  /** Restarts on the store the HTTP workloads filled. */
  readonly seeded: StartupSummary;
  /** The same on an empty data directory: the baseline that shows whether start-up grows with the store. */
  readonly empty: StartupSummary;
  readonly storeBytes: number;
}

/** Reads, identifier searches and queue queries after start, so RSS is measured on a server that has done real work. */
const WARMUP_REQUESTS = 300;

async function startOnce(dataDir: string, logFile: string, patientIds: readonly string[], withQueue: boolean): Promise<StartupRun> {
  const started = performance.now();
  const server = await ServerProcess.start(dataDir, logFile);
  const readyMs = server.readyAfterMs;
  try {
    const http = new FhirHttp(server.baseUrl, await server.token());
    if (patientIds.length) {
      await http.request('GET', `Patient/${patientIds[0]}`);
    } else {
      await http.request('GET', 'Patient?_count=1');
    }
    const firstReadMs = performance.now() - started;
    const rssAfterStartMiB = server.memory().rssMiB;
    for (let i = 0; i < WARMUP_REQUESTS; i++) {
      const n = Math.max(1, patientIds.length);
      const kind = i % (withQueue ? 3 : 2);
      const path =
        kind === 0 && patientIds.length
          ? `Patient/${patientIds[i % n]}`
          : kind === 1
            ? `Patient?identifier=${encodeURIComponent(`${MRN_SYSTEM}|${seededMrn(i % n)}`)}`
            : queueQuery(i);
      await http.request('GET', path);
    }
    const { rssMiB, peakRssMiB } = server.memory();
    const stopMs = await server.stop();
    return { readyMs, firstReadMs, rssAfterStartMiB, rssAfterWarmupMiB: rssMiB, peakRssMiB, stopMs };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

function summarizeStartup(runs: StartupRun[]): StartupSummary {
  const pick = (f: (r: StartupRun) => number): number => median(runs.map(f));
  return {
    readyMs: pick((r) => r.readyMs),
    firstReadMs: pick((r) => r.firstReadMs),
    rssAfterStartMiB: pick((r) => r.rssAfterStartMiB),
    rssAfterWarmupMiB: pick((r) => r.rssAfterWarmupMiB),
    peakRssMiB: pick((r) => r.peakRssMiB),
    stopMs: pick((r) => r.stopMs),
    runs,
  };
}

/**
 * Restarts the server `restarts` times on the seeded store and on an empty one, alternating.
 * `withQueue`: include review-queue queries in the warm-up (left out when one takes seconds).
 */
export async function runStartup(
  seededDir: string,
  logDir: string,
  patientIds: readonly string[],
  restarts: number,
  withQueue: boolean
): Promise<StartupResult> {
  const seeded: StartupRun[] = [];
  const empty: StartupRun[] = [];
  for (let i = 0; i < restarts; i++) {
    const s = await startOnce(seededDir, join(logDir, 'server-restart.log'), patientIds, withQueue);
    process.stdout.write(`    restart ${i + 1}/${restarts} seeded store: ready ${s.readyMs.toFixed(0)} ms, RSS ${s.rssAfterWarmupMiB.toFixed(0)} MiB\n`);
    seeded.push(s);
    const e = await startOnce(mkdtempSync(join(logDir, 'empty-')), join(logDir, 'server-empty.log'), [], withQueue);
    process.stdout.write(`    restart ${i + 1}/${restarts} empty store:  ready ${e.readyMs.toFixed(0)} ms, RSS ${e.rssAfterWarmupMiB.toFixed(0)} MiB\n`);
    empty.push(e);
  }
  return { seeded: summarizeStartup(seeded), empty: summarizeStartup(empty), storeBytes: directoryBytes(seededDir) };
}

export function directoryBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const st = statSync(join(dir, name));
    total += st.isDirectory() ? directoryBytes(join(dir, name)) : st.size;
  }
  return total;
}
