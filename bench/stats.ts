/** The value below which `p` percent of `sorted` (ascending) lies; nearest-rank, as HdrHistogram reports. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) {
    return Number.NaN;
  }
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) {
    return Number.NaN;
  }
  const mid = Math.floor(finite.length / 2);
  return finite.length % 2 ? finite[mid] : (finite[mid - 1] + finite[mid]) / 2;
}

/** Latency summary in milliseconds. */
export interface Latency {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
}

export function latencyOf(samplesMs: number[]): Latency {
  samplesMs.sort((a, b) => a - b);
  return { p50: percentile(samplesMs, 50), p95: percentile(samplesMs, 95), p99: percentile(samplesMs, 99) };
}

/** One measured run of one workload. */
export interface RunResult {
  /** Operations (HTTP requests or in-process router calls) completed per second. */
  readonly opsPerSec: number;
  /** Resources written per second, for workloads where one operation writes several. */
  readonly resourcesPerSec?: number;
  readonly latency: Latency;
  readonly ops: number;
  /** Responses that were not 2xx, plus connection errors. */
  readonly failures: number;
}

/** The median of each figure over several runs (each figure on its own). */
export interface WorkloadSummary {
  readonly opsPerSec: number;
  readonly resourcesPerSec?: number;
  readonly latency: Latency;
  readonly failures: number;
  readonly runs: readonly RunResult[];
}

export function summarize(runs: readonly RunResult[]): WorkloadSummary {
  const resources = runs.map((r) => r.resourcesPerSec).filter((v): v is number => v !== undefined);
  return {
    opsPerSec: median(runs.map((r) => r.opsPerSec)),
    ...(resources.length ? { resourcesPerSec: median(resources) } : {}),
    latency: {
      p50: median(runs.map((r) => r.latency.p50)),
      p95: median(runs.map((r) => r.latency.p95)),
      p99: median(runs.map((r) => r.latency.p99)),
    },
    failures: runs.reduce((n, r) => n + r.failures, 0),
    runs,
  };
}
